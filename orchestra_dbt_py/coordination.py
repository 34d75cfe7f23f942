"""Overlapping runs on one shared state: claim the nodes to build, renew the claims while dbt
runs, release them once their records are saved, and wait for the nodes another live run is
building. The rules are in `core.claims`; this module does the I/O and the waiting."""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from orchestra_dbt_py.core.claims import (
    Claim,
    Taken,
    free_to_take,
    lease_end,
    release,
    renew,
    take,
)
from orchestra_dbt_py.state.backend import StateBackend

__all__ = ["Coordinator", "Waited", "live_claims"]

HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def dead_runs(board: Mapping[str, Claim]) -> set[str]:
    """Runs whose process on this host is gone: their claims are free at once."""
    return {c.run_id for c in board.values() if c.host == HOST and not _alive(c.pid)}


@dataclass(frozen=True)
class Waited:
    """What a wait for other runs ended with."""

    seconds: float
    # Node ids still held when the maximum wait ran out.
    still_held: dict[str, Claim]


@dataclass
class Coordinator:
    """This run's claims on one backend's board."""

    backend: StateBackend
    key_of: Callable[[str], str]
    lease_seconds: float
    poll_seconds: float = 1.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _held: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    heartbeat_error: BaseException | None = None

    def _mine(self) -> Claim:
        now = self.clock()
        owner = _user()
        return Claim(self.run_id, HOST, os.getpid(), owner, now, lease_end(now, self.lease_seconds))

    def claim(
        self, node_ids: Iterable[str], downstream: Mapping[str, Collection[str]]
    ) -> tuple[list[str], dict[str, Claim]]:
        """Take every node no other live run holds, except those downstream of a held one
        (`downstream`: each node of the graph with the nodes below it): (the node ids now
        held by this run, the node ids held by others that hold some back, with claims)."""
        wanted = [self.key_of(uid) for uid in node_ids]
        by_key = {self.key_of(uid): uid for uid in downstream}
        by_key.update(zip(wanted, node_ids, strict=True))
        below = {self.key_of(u): [self.key_of(d) for d in ds] for u, ds in downstream.items()}
        mine = self._mine()

        def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], Taken]:
            taken = take(board, wanted, mine, self.clock(), dead_runs(board), below)
            return taken.board, taken

        taken = self.backend.change_claims(change)
        held = [by_key[key] for key in taken.held]
        with self._lock:
            self._held.update(taken.held)
        if held and self._thread is None:
            self._thread = threading.Thread(target=self._heartbeat, daemon=True)
            self._thread.start()
        return held, {by_key[key]: claim for key, claim in taken.blocked.items()}

    def release(self, node_ids: Iterable[str]) -> None:
        """Drop this run's claims on these nodes (after their records are saved)."""
        keys = {self.key_of(uid) for uid in node_ids}
        with self._lock:
            self._held -= keys
        if keys:
            self.backend.change_claims(lambda board: (release(board, keys, self.run_id), None))

    def stop(self) -> None:
        """Stop renewing and release whatever is still held (a run that ends or fails)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            keys, self._held = set(self._held), set()
        if keys:
            self.backend.change_claims(lambda board: (release(board, keys, self.run_id), None))

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 4):
            expires = lease_end(self.clock(), self.lease_seconds)
            try:
                self.backend.change_claims(partial(_renewed, run_id=self.run_id, expires=expires))
            except Exception as error:  # the claims then expire: others build, nothing is lost
                self.heartbeat_error = error

    def wait(self, blocked: Mapping[str, Claim], max_seconds: float) -> Waited:
        """Wait until no other live run holds any of these nodes, or `max_seconds` passed."""
        by_key = {self.key_of(uid): uid for uid in blocked}
        started = time.monotonic()
        while True:
            look = partial(_live_holders, keys=by_key, run_id=self.run_id, now=self.clock())
            live = self.backend.change_claims(look)
            waited = time.monotonic() - started
            if not live or waited >= max_seconds:
                still = {by_key[key]: claim for key, claim in live.items()}
                return Waited(waited, still)
            time.sleep(min(self.poll_seconds, max(0.0, max_seconds - waited)))


def live_claims(
    backend: StateBackend, uid_by_key: Mapping[str, str], now: datetime
) -> dict[str, Claim]:
    """The live claims other runs hold on these nodes, by node id (read only)."""
    if backend.no_claims_reason is not None:
        return {}
    _, live = _live_holders(backend.read_claims(), list(uid_by_key), "", now)
    return {uid_by_key[key]: claim for key, claim in live.items()}


def _renewed(
    board: dict[str, Claim], run_id: str, expires: datetime
) -> tuple[dict[str, Claim], None]:
    return renew(board, run_id, expires), None


def _live_holders(
    board: dict[str, Claim], keys: Collection[str], run_id: str, now: datetime
) -> tuple[dict[str, Claim], dict[str, Claim]]:
    """The board unchanged, and the claims of other live runs on `keys`."""
    dead = dead_runs(board)
    live = {
        key: board[key]
        for key in keys
        if key in board
        and board[key].run_id != run_id
        and not free_to_take(board[key], run_id, now, dead)
    }
    return board, live


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
