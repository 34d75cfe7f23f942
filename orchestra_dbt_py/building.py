"""The steps of one stateful build that `rounds.build_in_rounds` asks for (its `Builder`):
run dbt on some nodes and save their records, read the state, plan again. The runner makes
one `StatefulBuild` and hands it to the rounds; nothing here calls back into either."""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.planner import Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.dbt.command import DbtCommand, exit_code
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.dbt.run_results import results_since
from orchestra_dbt_py.planning import PlannedRun, decide
from orchestra_dbt_py.recorder import RunRecorder
from orchestra_dbt_py.report import console

__all__ = ["StatefulBuild"]


@dataclass
class StatefulBuild:
    """A planned stateful command, its recorder, and dbt's results of every round so far
    (dbt rewrites run_results.json on each run)."""

    planned: PlannedRun
    command: DbtCommand
    settings: Settings
    recorder: RunRecorder
    results: list[dict[str, Any]] = field(default_factory=list)

    def run(self, node_ids: Sequence[str]) -> tuple[int, bool]:
        """Run dbt on these nodes and save their records; (dbt's exit code, whether a
        signal stopped it)."""
        started = datetime.now(UTC)
        session = self.planned.session
        with interrupts_as_keyboard_interrupt() as received:
            result = session.run(node_ids, callbacks=[self.recorder.on_event])
        self.results.extend(results_since(session.target_dir, started))
        record_table_versions(self.recorder, self.planned.warehouse)
        self.recorder.flush()  # before the claims go: a waiting run then finds the records
        return (128 + received[0] if received else exit_code(result)), bool(received)

    def load_state(self) -> Mapping[str, NodeRecord]:
        """The state of the project's nodes, as it is now."""
        scope = KeyScope.of(self.settings.integration_account_id, self.settings.local_run)
        return scope.records_of(self.planned.nodes, self.planned.backend.load())

    def replan(self) -> tuple[Plan, Mapping[str, NodeRecord]]:
        """The selection planned again on fresh state and measurements."""
        planned = self.planned
        fresh = decide(
            planned.session,
            planned.backend,
            planned.graph,
            planned.selected,
            self.command,
            self.settings,
            planned.warehouse,
        )
        self.recorder.update_inputs(fresh.state, fresh.versions, fresh.sql_inputs)
        return fresh.plan, fresh.state


def record_table_versions(recorder: RunRecorder, warehouse: Warehouse) -> None:
    """Measure the tables the run built, in one call, and keep each one's version in its
    record: a later change made outside orc is then seen. When the measurement fails the
    records keep no version, and the next run rebuilds those tables."""
    built = recorder.built_tables()
    if not built:
        return
    try:
        measured, error = warehouse.data_versions(built)
    except Exception as failure:  # never in the way of saving what the run built
        measured, error = None, str(failure)
    if measured is None:
        console.warn(f"could not measure the tables this run built: {error}")
        return
    recorder.set_table_versions({uid: measured.get(uid, {}) for uid in built})


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[list[int]]:
    """Let SIGTERM stop dbt the way Ctrl-C does, so completed nodes are still saved.

    Yields a list that holds the signal number once one arrived.
    """
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
        raise KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
