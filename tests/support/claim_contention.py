"""Overlapping runs claiming the same nodes, in real processes, for the claims tests of every
backend that can coordinate.

Each run (`contend`) takes the keys it still needs through `change_claims`, holds what it
got for a moment, and releases it, until it has held every key HOLDS times. While it holds a
key it keeps a marker file `<folder>/held/<key>`, created exclusively (a second holder fails
at once), and it writes down in its own log when it held which key, on a counter all runs
share. `check_contention` then checks that no two runs ever held one key at once, and that
every hold and every release was kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from orchestra_dbt_py.core.claims import Claim, release, take
from orchestra_dbt_py.state.backend import StateBackend

KEYS = ("model.p.a", "model.p.b", "model.p.c")
HOLDS = 3
# A safety net only: the runs start together on a barrier, never after a sleep.
DEADLINE = 90.0


def _tick(clock: Synchronized[int]) -> int:
    with clock.get_lock():
        clock.value += 1
        return int(clock.value)


def _taking(
    wanted: list[str], mine: Claim
) -> Callable[[dict[str, Claim]], tuple[dict[str, Claim], list[str]]]:
    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], list[str]]:
        taken = take(board, wanted, mine, datetime.now(UTC))
        return taken.board, taken.held

    return change


def _releasing(
    held: list[str], run_id: str
) -> Callable[[dict[str, Claim]], tuple[dict[str, Claim], None]]:
    return lambda board: (release(board, held, run_id), None)


def contend(
    backend: StateBackend, run: int, clock: Synchronized[int], folder: Path, start: Barrier
) -> None:
    """One run: hold every key of KEYS HOLDS times, logging each hold to `run<n>.log`."""
    now = datetime.now(UTC)
    mine = Claim(f"run{run}", "test-host", os.getpid(), "tester", now, now + timedelta(hours=1))
    left = dict.fromkeys(KEYS, HOLDS)
    start.wait(DEADLINE)
    with open(folder / f"run{run}.log", "w", encoding="utf-8") as log:
        while any(left.values()):
            wanted = [key for key, count in left.items() if count]
            held: list[str] = backend.change_claims(_taking(wanted, mine))
            if not held:
                time.sleep(0.001)  # the others hold everything left: let them finish
                continue
            for key in held:
                os.close(os.open(folder / "held" / key, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            begin = _tick(clock)
            time.sleep(0.001)  # give the other runs a chance to try the held keys
            end = _tick(clock)
            for key in held:
                (folder / "held" / key).unlink()
                log.write(f"{key} {begin} {end}\n")
                left[key] -= 1
            backend.change_claims(_releasing(held, mine.run_id))


def run_contenders(
    ctx: Any,
    target: Callable[..., None],
    args: Sequence[object],
    folder: Path,
    runs: int,
) -> None:
    """`runs` processes of `ctx` running `target(*args, run, clock, folder, barrier)`."""
    (folder / "held").mkdir(parents=True)
    clock = ctx.Value("q", 0)
    barrier = ctx.Barrier(runs)
    processes = [
        ctx.Process(target=target, args=(*args, run, clock, folder, barrier)) for run in range(runs)
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + DEADLINE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    stuck = [process for process in processes if process.is_alive()]
    for process in stuck:
        process.kill()
        process.join()
    assert stuck == [], "runs still waiting at the deadline: a claim was never released"
    assert [p.exitcode for p in processes] == [0] * runs


def check_contention(folder: Path, runs: int, final_board: dict[str, Claim]) -> None:
    """No key was held by two runs at once, every run held every key HOLDS times, and the
    board is empty again (every release was kept)."""
    spans: dict[str, list[tuple[int, int, int]]] = {key: [] for key in KEYS}
    for run in range(runs):
        lines = (folder / f"run{run}.log").read_text(encoding="utf-8").splitlines()
        held = [line.split() for line in lines]
        assert sorted(key for key, _, _ in held) == sorted(KEYS * HOLDS)
        for key, first_tick, last_tick in held:
            spans[key].append((int(first_tick), int(last_tick), run))
    for key, key_spans in spans.items():
        ordered = sorted(key_spans)
        for (_, end, first), (begin, _, second) in pairwise(ordered):
            assert end < begin, f"{key} held by run{first} and run{second} at once"
    assert list((folder / "held").iterdir()) == []
    assert final_board == {}
