"""Turn dbt's per-node results into state records, as each node finishes.

dbt calls `on_event` on its worker threads. Records are saved in batches by a
background thread (a checkpoint every few seconds) and once more at the end, so a run
killed halfway keeps what it completed. No exception may escape a dbt callback: one
that did would turn the node into an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.graph import Node, holds_data, outcome_of
from orchestra_dbt_py.core.implicit import SqlInputs
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion
from orchestra_dbt_py.state.backend import StateBackend

# Wait this many times the average save's duration between checkpoints (`checkpoint_pause`).
SAVE_TIME_FACTOR = 30
JOURNALED_SAVE_TIME_FACTOR = 300


def checkpoint_pause(backend: StateBackend, average_save: float) -> float:
    """Seconds between a checkpoint and the next: at most one per the backend's interval,
    and never more than ~3% of the time spent saving (a slow backend is saved to less
    often; ~0.3% where a journal keeps every outcome at once). A save starts as soon as a
    node finishes after that, so a killed run loses the last second or so, or nothing
    where the journal kept it."""
    factor = JOURNALED_SAVE_TIME_FACTOR if backend.journaled else SAVE_TIME_FACTOR
    return max(backend.checkpoint_seconds, factor * average_save)


@dataclass
class RunRecorder:
    nodes: Mapping[str, Node]
    # State keyed by unique id, as loaded before the run; updated as nodes finish.
    known: dict[str, NodeRecord]
    # Data versions of the sources, observed before the run.
    versions: Mapping[str, DataVersion]
    checksums: Mapping[str, str | None]
    backend: StateBackend
    # Which keys each record is written under, stamped with this run's target.
    scope: KeyScope
    # The nodes this run builds with partial data (--empty, --sample: every node;
    # --event-time-*: microbatch models): their records are forgotten when they finish.
    forgotten: frozenset[str] = frozenset()
    # What each model's compiled SQL reads beyond its refs and sources, found at plan time.
    sql_inputs: Mapping[str, SqlInputs] = field(default_factory=dict)
    # The parents this run's dbt reads from the target it defers to (unique id: relation).
    deferred_reads: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    statuses: dict[str, str] = field(default_factory=dict)
    # The signals that stopped this run (filled by the signal handler), and the nodes that
    # ended without passing after one arrived: dbt cancelled them, they did not fail.
    signals: list[int] = field(default_factory=list)
    interrupted: set[str] = field(default_factory=set)
    _pending: dict[str, NodeRecord | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _finished: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    # Clones waiting for dbt to build the views they read: clone -> (those views, seconds).
    _waiting: dict[str, tuple[set[str], float]] = field(default_factory=dict)
    save_error: BaseException | None = None
    saves: int = 0
    save_seconds: float = 0.0

    def on_event(self, event: Any) -> None:
        """dbt callback: record a node when dbt reports it finished."""
        try:
            if event.info.name != "NodeFinished":
                return
            uid = event.data.node_info.unique_id
            result = event.data.run_result
            self.node_finished(uid, str(result.status), float(result.execution_time or 0.0))
        except Exception:
            return

    def node_finished(self, uid: str, status: str, execution_time: float) -> None:
        node = self.nodes.get(uid)
        if node is None:
            return
        with self._lock:
            self.statuses[uid] = status
            if self.signals and outcome_of(status) != "passed":
                self.interrupted.add(uid)
            record = None
            if uid not in self.forgotten:
                record = finished_record(
                    self.nodes,
                    uid,
                    status,
                    execution_time,
                    known=self.known,
                    versions=self.versions,
                    checksum=self.checksums.get(uid),
                    now=self.clock(),
                    sql_inputs=self.sql_inputs.get(uid),
                    deferred_reads=self.deferred_reads,
                )
            if record is not None:
                self.known[uid] = record
            else:
                self.known.pop(uid, None)
            self._pending[uid] = record
            # Where the backend keeps a journal, the outcome is kept at once.
            try:
                if record is None:
                    self.backend.journal({}, self.scope.keys(node))
                else:
                    self.backend.journal(self.scope.entries(node, record), ())
            except Exception as error:  # the checkpoint and final saves still carry it
                self.save_error = error
            ready = []
            for clone, (inputs, seconds) in list(self._waiting.items()):
                inputs.discard(uid)
                if not inputs:
                    ready.append((clone, seconds))
                    del self._waiting[clone]
        for clone, seconds in ready:
            self.node_finished(clone, "success", seconds)
        self._finished.set()

    def record_after(self, uid: str, inputs: set[str], seconds: float) -> None:
        """Record the clone `uid` as a success once dbt finished every one of `inputs`
        (views it reads, built in this run: the record names their builds, and dbt, which
        runs parents first, builds the clone's children after them)."""
        if not inputs:
            self.node_finished(uid, "success", seconds)
            return
        with self._lock:
            self._waiting[uid] = (set(inputs), seconds)

    def record_waiting(self) -> bool:
        """Record the clones whose views dbt did not build (failed, skipped, stopped): their
        records miss that build, so the next run clones them again. Whether there were any."""
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for clone, (_, seconds) in waiting.items():
            self.node_finished(clone, "success", seconds)
        return bool(waiting)

    def key_of(self, uid: str) -> str:
        """The key of the node's record (claims are kept under it too)."""
        return self.scope.key(self.nodes[uid])

    def update_inputs(
        self,
        state: Mapping[str, NodeRecord],
        versions: Mapping[str, DataVersion],
        sql_inputs: Mapping[str, SqlInputs],
    ) -> None:
        """After a new plan (this run waited for another): records made from now on name the
        builds and source versions that plan read."""
        with self._lock:
            self.known.update(state)
            self.versions = versions
            self.sql_inputs = sql_inputs

    def built_tables(self) -> list[str]:
        """The nodes this run built whose relations hold data (tables, not views)."""
        with self._lock:
            return sorted(
                uid
                for uid, status in self.statuses.items()
                if status == "success" and uid in self.known and holds_data(self.nodes[uid])
            )

    def set_table_versions(self, versions: Mapping[str, DataVersion]) -> None:
        """Keep the version each built table had right after the run in its record."""
        with self._lock:
            for uid, version in versions.items():
                record = self.known.get(uid)
                if record is not None:
                    self.known[uid] = self._pending[uid] = replace(record, version=version)
        self._finished.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._checkpoint_loop, daemon=True)
        self._thread.start()

    def _checkpoint_loop(self) -> None:
        while not self._stop.is_set():
            self._finished.wait()
            self._finished.clear()
            average = self.save_seconds / self.saves if self.saves else 0.0
            if self._stop.wait(checkpoint_pause(self.backend, average)):
                return
            try:
                self.flush()
            except Exception as error:
                self.save_error = error

    def flush(self) -> None:
        """Save what finished since the last save."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        updates: dict[str, NodeRecord] = {}
        removals: list[str] = []
        for uid, record in pending.items():
            node = self.nodes[uid]
            if record is None:
                removals.extend(self.scope.keys(node))
            else:
                updates.update(self.scope.entries(node, record))
        started = time.perf_counter()
        try:
            self.backend.save(updates, removals)
            self.saves += 1
            self.save_seconds += time.perf_counter() - started
        except BaseException:
            with self._lock:
                # Keep them for the next attempt; newer results for the same node win.
                self._pending = {**pending, **self._pending}
            raise

    def finish(self) -> None:
        """Stop checkpointing and save everything; raises if the state cannot be saved."""
        self._stop.set()
        self._finished.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
