"""The steps of one stateful build that `rounds.build_in_rounds` asks for (its `Builder`):
run dbt on some nodes and save their records, read the state, plan again; and what the
runner does after them (hooks, measuring for the next run). The runner makes one
`StatefulBuild` and hands it to the rounds; nothing here calls back into either."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from orchestra_dbt_py.collector import out_of_the_collectors_sight
from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.graph import data_inputs, plural, sources_to_measure, upstream_within
from orchestra_dbt_py.core.planner import Decision, Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.dbt.command import DbtCommand, exit_code
from orchestra_dbt_py.dbt.deferred_tables import reading_deferred
from orchestra_dbt_py.dbt.hook_writes import writer_line
from orchestra_dbt_py.dbt.hooks import END, REUSE_HOOKS_SETTING, START, HookRun, ProjectHooks
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.dbt.run_results import results_since
from orchestra_dbt_py.dbt.sql_inputs import SqlInputReader
from orchestra_dbt_py.errors import one_line
from orchestra_dbt_py.planning import PlannedRun, decide, looked_at, measure_data_versions
from orchestra_dbt_py.recorder import RunRecorder
from orchestra_dbt_py.report import console
from orchestra_dbt_py.rounds import Rounds

__all__ = ["StatefulBuild", "measure_for_next_run"]


@dataclass
class StatefulBuild:
    """A planned stateful command, its recorder, and dbt's results of every round so far
    (dbt rewrites run_results.json on each run): as written, and as dbt's objects (what
    on-run-end hooks are given)."""

    planned: PlannedRun
    command: DbtCommand
    settings: Settings
    recorder: RunRecorder
    results: list[dict[str, Any]] = field(default_factory=list)
    node_results: list[Any] = field(default_factory=list)
    # Whether dbt ran the project's on-run-end hooks in its invocation.
    ran_end_hooks: bool = False

    def run(self, node_ids: Sequence[str], only: bool) -> tuple[int, bool]:
        """Run dbt on these nodes and save their records; (dbt's exit code, whether a
        signal stopped it). orc ran the on-run-start hooks; dbt runs the on-run-end hooks
        only when this is the command's one invocation and every start hook passed (orc
        runs them after the last invocation otherwise)."""
        started = datetime.now(UTC)
        session = self.planned.session
        self.ran_end_hooks = only and not self.planned.start_hooks.failures
        without = (START,) if self.ran_end_hooks else (START, END)
        deferred = self.planned.deferred_reads
        phases = self.planned.phases
        with (
            phases.timed("dbt_build"),
            interrupts_as_keyboard_interrupt(self.recorder.signals) as received,
            reading_deferred(session, deferred),
            out_of_the_collectors_sight(),
        ):
            result = session.run(
                node_ids, callbacks=[self.recorder.on_event], without_hooks=without
            )
        self.results.extend(results_since(session.target_dir, started))
        self.node_results.extend(getattr(result.result, "results", None) or ())
        with phases.timed("built_table_versions"):
            record_table_versions(self.recorder, self.planned.warehouse)
        with phases.timed("state_write"):
            self.recorder.flush()  # before the claims go: a waiting run then finds the records
        return (128 + received[0] if received else exit_code(result)), bool(received)

    def clone_first(self) -> Plan:
        """Clone what the plan clones, and the tables that builds start from (pre_clone),
        recording each clone as a build of this target; the plan as it then stands (a clone
        that failed is built instead, and says why)."""
        plan, nodes = self.planned.plan, self.planned.nodes
        pairs = [
            (d.clone_from, nodes[uid])
            for uid, d in plan.decisions.items()
            if d.clone_from is not None and d.action in ("clone", "build")
        ]
        if not pairs:
            return plan
        with self.planned.phases.timed("clones"):
            started = time.perf_counter()
            failed = self.planned.warehouse.clone_relations(pairs)
            seconds = (time.perf_counter() - started) / len(pairs)
        decisions = dict(plan.decisions)
        # What a clone's record waits for: the views dbt builds under it, and clones waiting.
        awaited = set(plan.ids("build"))
        for uid, decision in plan.decisions.items():  # parents first: records name them
            if decision.clone_from is None or decision.action not in ("clone", "build"):
                continue
            error = failed.get(uid)
            if decision.action == "build":
                if error is not None:
                    console.warn(f"{nodes[uid].label} is built from scratch: {error}")
                    why = f"{decision.reason}; that clone failed, so built from scratch: {error}"
                    decisions[uid] = replace(decision, reason=why, clone_from=None)
            elif error is not None:
                decisions[uid] = Decision(uid, "build", f"{error}; built instead")
            else:
                inputs = awaited & set(data_inputs(nodes, uid))
                self.recorder.record_after(uid, inputs, seconds)
                if inputs:
                    awaited.add(uid)
        record_table_versions(self.recorder, self.planned.warehouse)
        self.recorder.flush()
        return replace(plan, decisions=decisions)

    def run_first(self, pending: Sequence[str]) -> tuple[list[str], bool]:
        """The nodes whose hooks write rows elsewhere, and the builds they wait for: built
        before the rest is measured and planned again, so their readers see those rows."""
        nodes = self.planned.nodes
        writers = self.planned.hook_writers(pending)
        if not writers:
            return list(pending), False
        for uid, written in writers.items():
            console.say(writer_line(nodes[uid].label, written))
        first = upstream_within(nodes, writers, set(pending))
        return [uid for uid in pending if uid in first], True

    def record_waiting_clones(self) -> None:
        """At the end: record the clones still waiting for a view dbt did not build, with
        their tables' versions."""
        if self.recorder.record_waiting():
            record_table_versions(self.recorder, self.planned.warehouse)

    def __post_init__(self) -> None:
        self.results.extend(self.planned.start_hooks.artifact_results())

    def run_end_hooks(self, hooks: ProjectHooks, built: Rounds) -> HookRun:
        """The on-run-end hooks, once per command, unless dbt ran them, a signal stopped
        the run (dbt then runs none) or nothing was selected."""
        if self.ran_end_hooks or built.interrupted or not self.planned.selected:
            return HookRun()
        ended = hooks.run_end([*self.planned.start_hooks.results, *self.node_results])
        self.results.extend(ended.artifact_results())
        return ended

    def load_state(self) -> Mapping[str, NodeRecord]:
        """The state of the project's nodes, as it is now."""
        scope = self.planned.session.key_scope(self.settings)
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
            planned.defers_to,
            planned.rerun,
            phases=planned.phases,
        )
        self.recorder.update_inputs(fresh.state, fresh.versions, fresh.sql_inputs)
        return fresh.plan, fresh.state


def hooks_exit_code(*runs: HookRun) -> int:
    """dbt's exit code for hooks that failed (1, as for a node), each failure said once."""
    failures = [failure for run in runs for failure in run.failures]
    for failure in failures:
        console.warn(failure)
    return 1 if failures else 0


def run_hooks_on_reuse(planned: PlannedRun, hooks: ProjectHooks) -> HookRun:
    """The pre- and post-hooks of the reused nodes that ask for them (a node reused after
    waiting for another run had them run by the run that built it)."""
    ran = hooks.run_on_reuse(planned.plan.ids("reuse"))
    if ran.nodes:
        console.say(
            f"ran the pre- and post-hooks of {plural(len(ran.nodes), 'reused node')} "
            f"({REUSE_HOOKS_SETTING}): {', '.join(ran.nodes)}"
        )
    return ran


def skip_after_failed_start(planned: PlannedRun, hooks: ProjectHooks) -> int:
    """An on-run-start hook failed under dbt's `skip_nodes_if_on_run_start_fails`: as dbt
    does, run no node, then the on-run-end hooks (given no results); nothing is recorded."""
    code = hooks_exit_code(planned.start_hooks, hooks.run_end([]))
    console.warn(
        "an on-run-start hook failed and dbt's skip_nodes_if_on_run_start_fails flag is on: "
        f"{len(planned.selected)} selected nodes skipped, nothing built or recorded"
    )
    return code


def record_table_versions(recorder: RunRecorder, warehouse: Warehouse) -> None:
    """Measure the tables the run built, in one call, and keep each one's version in its
    record: a later change made outside orc is then seen. When the measurement fails the
    records keep no version, and the next run rebuilds those tables."""
    built = recorder.built_tables()
    if not built:
        return
    warehouse.checkpoint()
    try:
        measured, error = warehouse.data_versions(built)
    except Exception as failure:  # never in the way of saving what the run built
        measured, error = None, str(failure)
    if measured is None:
        console.warn(f"could not measure the tables this run built: {error}")
        return
    recorder.set_table_versions({uid: measured.get(uid, {}) for uid in built})


def measure_for_next_run(planned: PlannedRun) -> None:
    """After a build into a DuckDB file whose measurements are kept (kept_versions.py): the
    build changed the file, so measure now, once its log is written into it, what the next
    run of this command asks for (freshness, the relations that exist, data versions) and
    the next run reads none of it again while the file stays as it is. What fails here is
    the next run's to measure and report."""
    warehouse, nodes, selected = planned.warehouse, planned.nodes, planned.selected
    if not warehouse.keeps_measurements:
        return
    warehouse.checkpoint()
    try:
        warehouse.measure_freshness(sources_to_measure(nodes, selected))
        warehouse.existing_relations(looked_at(nodes, selected, planned.defers_to))
        reader = SqlInputReader(planned.session)
        measure_data_versions(nodes, selected, warehouse, reader, planned.sql_inputs)
    except Exception as error:  # never in the way of the run that built
        console.say(f"measuring for the next run failed: {one_line(error)}", "debug")


@contextmanager
def interrupts_as_keyboard_interrupt(received: list[int]) -> Iterator[list[int]]:
    """Let SIGTERM stop dbt the way Ctrl-C does, so completed nodes are still saved.

    Yields `received`, which holds the signal number once one arrived.
    """
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
