"""Claims on the warehouse state (`change_claims`), with real dbt on real DuckDB files and a
real PostgreSQL server: the board lives in `<schema>.orc_state__claims`, one row of JSON,
read and written by the package's `change_claims_board` macro in one transaction.

The project and its warehouse are staged as tests/support/hooked.py
stages them; the backend runs in-process on a parsed dbt session, as `orc` runs it. The
concurrency tests take the same keys from several writers at once: processes on PostgreSQL
(each with its own dbt session and connections), threads on DuckDB (a DuckDB file has one
writing process). Every writer checks, in its next atomic step, that the claims it took are
still its own: a lost update would show as a claim overwritten, or left behind.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.claims import Claim, Taken, dump_board, release, take
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.table import WarehouseBackend
from tests.support.hooked import HookedProject, stage
from tests.support.tutorial import postgres_available

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEYS = ["model.p.a", "model.p.b", "model.p.c"]


def claim(run_id: str, hours: float = 1) -> Claim:
    return Claim(run_id, "host", 123, "me", NOW, NOW + timedelta(hours=hours))


@contextmanager
def session_backend(env: Mapping[str, str], project_dir: Path, table: str) -> Iterator[Any]:
    """A WarehouseBackend on a dbt session of the staged project, parsed in this process."""
    from dbt.adapters.factory import reset_adapters

    from orchestra_dbt_py.dbt.command import parse_command
    from orchestra_dbt_py.dbt.queries import Warehouse
    from orchestra_dbt_py.dbt.session import DbtSession

    saved = dict(os.environ), Path.cwd()
    os.environ.update(env)
    os.chdir(project_dir)
    session = DbtSession(parse_command(["parse"]))
    try:
        yield WarehouseBackend(table, lambda: Warehouse(session))
    finally:
        session.adapter.cleanup_connections()
        reset_adapters()
        os.chdir(saved[1])
        os.environ.clear()
        os.environ.update(saved[0])


def claims_table(project: HookedProject) -> str:
    return f"{project.table}__claims"


def boards(project: HookedProject) -> list[Any]:
    return [row[0] for row in project.query(f"select board from {claims_table(project)}")]


def set_board(project: HookedProject, value: str | None) -> None:
    text = "null" if value is None else "'" + value.replace("'", "''") + "'"
    project.execute(f"update {claims_table(project)} set board = {text}")


def unchanged(board: dict[str, Claim]) -> tuple[dict[str, Claim], dict[str, Claim]]:
    return board, board


def taking(mine: Claim) -> Callable[[dict[str, Claim]], tuple[dict[str, Claim], Taken]]:
    """The change that takes every free key of KEYS for `mine`."""

    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], Taken]:
        taken = take(board, KEYS, mine, NOW)
        return taken.board, taken

    return change


def test_an_unchanged_board_is_not_written(wh: HookedProject) -> None:
    with session_backend(wh.env, wh.dir, wh.table) as backend:
        backend.change_claims(unchanged)
        assert boards(wh) == [""]  # made empty, and not written over
        # The same board as other JSON text: it reads back equal, so it is kept as it is.
        spaced = json.dumps(json.loads(dump_board({"k": claim("run-1")})), indent=2)
        set_board(wh, spaced)
        assert backend.change_claims(unchanged) == {"k": claim("run-1")}
        assert backend.change_claims(lambda board: (release(board, ["k"], "other"), 1)) == 1
        assert boards(wh) == [spaced]


CORRUPT = [
    ("{not json", "is corrupt (not JSON"),
    ('{"claims": []}', 'is corrupt ("claims" is not an object)'),
    (None, "holds NULL, not a claims board"),
]


def test_a_corrupt_board_is_one_line_and_never_written_over(wh: HookedProject) -> None:
    where = f"the claims table warehouse:{claims_table(wh)} "
    fix = ": drop it when no orc run is going on (orc makes it again)"
    changes: list[str] = []

    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], None]:
        changes.append("called")
        return {"k": claim("run-1")}, None

    with session_backend(wh.env, wh.dir, wh.table) as backend:
        backend.change_claims(unchanged)
        for value, words in CORRUPT:
            set_board(wh, value)
            with pytest.raises(OrcError) as raised:
                backend.change_claims(change)
            message = str(raised.value)
            assert message.startswith(where + words) and message.endswith(fix), message
            assert "\n" not in message
            assert boards(wh) == [value]
        # One row is the board: none, or two, is no board.
        wh.execute(f"insert into {claims_table(wh)} values ('')")
        with pytest.raises(OrcError, match=r"has 2 rows, not its one board row: drop it"):
            backend.change_claims(change)
        wh.execute(f"delete from {claims_table(wh)}")
        with pytest.raises(OrcError, match=r"has 0 rows, not its one board row: drop it"):
            backend.change_claims(change)
        assert boards(wh) == []
        assert changes == []


# --- concurrent writers ------------------------------------------------------------------------


def take_and_check(backend: WarehouseBackend, run_id: str, rounds: int) -> tuple[int, list[str]]:
    """`rounds` times: take what is free of KEYS, then, in the next atomic step, check that
    every claim taken is still this run's and release it. Returns how many claims were
    taken, and every key found taken over by another run."""
    taken_count = 0
    lost: list[str] = []
    mine = Claim(run_id, "host", os.getpid(), "me", NOW, NOW + timedelta(days=1))
    for _ in range(rounds):
        taken = backend.change_claims(taking(mine))
        taken_count += len(taken.held)

        def check(board: dict[str, Claim], held: list[str] = taken.held) -> Any:
            gone = [key for key in held if board.get(key) != mine]
            return release(board, held, run_id), gone

        lost += backend.change_claims(check)
    return taken_count, lost


def _process_writer(
    env: dict[str, str], project_dir: str, table: str, run_id: str, rounds: int, start: Any
) -> tuple[int, list[str]]:
    with session_backend(env, Path(project_dir), table) as backend:
        backend.change_claims(unchanged)  # connected and parsed before the start
        start.wait()
        return take_and_check(backend, run_id, rounds)


def assert_no_claim_lost(results: list[tuple[int, list[str]]], project: HookedProject) -> None:
    assert [lost for _, lost in results] == [[] for _ in results]
    # Every claim taken was released: no release was lost either.
    assert [json.loads(board) for board in boards(project)] == [{"claims": {}}]
    assert sum(count for count, _ in results) > 0


@pytest.mark.postgres
def test_processes_never_hold_one_key_together_on_postgres(tmp_path: Path) -> None:
    if not postgres_available():
        pytest.skip("needs PGHOST/PGPORT (make test starts a server)")
    project = stage(tmp_path, "postgres")
    writers, rounds = 4, 15
    context = multiprocessing.get_context("spawn")
    try:
        with context.Manager() as manager:
            start = manager.Barrier(writers)
            with context.Pool(writers) as pool:
                args = [
                    (project.env, str(project.dir), project.table, f"run-{i}", rounds, start)
                    for i in range(writers)
                ]
                results = pool.starmap(_process_writer, args)
        assert_no_claim_lost(results, project)
    finally:
        project.drop()


def test_threads_never_hold_one_key_together_on_duckdb(tmp_path: Path) -> None:
    project = stage(tmp_path, "duckdb")
    writers, rounds = 4, 10
    start = threading.Barrier(writers)
    with session_backend(project.env, project.dir, project.table) as backend:
        backend.change_claims(unchanged)

        def write(i: int) -> tuple[int, list[str]]:
            start.wait()
            return take_and_check(backend, f"run-{i}", rounds)

        with ThreadPoolExecutor(writers) as pool:
            results = list(pool.map(write, range(writers)))
    assert_no_claim_lost(results, project)
