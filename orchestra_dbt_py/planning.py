"""Everything up to the decision of a stateful command: parse, open the state, measure, plan.
Reads the warehouse, writes nothing; `decide` is also how a run plans again after waiting
for another run."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from orchestra_dbt_py.collector import collect_less_often
from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.cloning import DeferredTarget, deferred_parents, with_clones
from orchestra_dbt_py.core.graph import (
    Node,
    data_inputs,
    named_relations,
    sources_to_measure,
    versioned_relations,
)
from orchestra_dbt_py.core.implicit import SqlInputs
from orchestra_dbt_py.core.planner import (
    Plan,
    PlanOptions,
    backfill_reason,
    plan,
    rebuild_reason,
)
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion, source_version
from orchestra_dbt_py.dbt.command import DbtCommand
from orchestra_dbt_py.dbt.deferral import deferred_target
from orchestra_dbt_py.dbt.deferred_tables import measure_deferred
from orchestra_dbt_py.dbt.graph import ProjectGraph, read_graph
from orchestra_dbt_py.dbt.hook_writes import hooks_writing_elsewhere
from orchestra_dbt_py.dbt.hooks import HookRun, ProjectHooks
from orchestra_dbt_py.dbt.queries import WITHOUT_PACKAGE, Warehouse
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.dbt.sql_inputs import SqlInputReader
from orchestra_dbt_py.phases import Phases
from orchestra_dbt_py.report import console
from orchestra_dbt_py.state import StateBackend, configured_location, open_backend

__all__ = [
    "PlannedRun",
    "decide",
    "looked_at",
    "make_plan",
    "measure_data_versions",
    "partial_data_nodes",
]


@dataclass(frozen=True)
class PlannedRun:
    session: DbtSession
    backend: StateBackend
    graph: ProjectGraph
    plan: Plan
    # The state of the project's nodes, keyed by unique id.
    state: dict[str, NodeRecord]
    freshness: dict[str, datetime | None]
    # The data versions observed before the run, of sources and tables (see `plan`).
    versions: dict[str, DataVersion]
    warehouse: Warehouse
    selected: list[str]
    # What selected models' compiled SQL reads beyond their refs and sources.
    sql_inputs: dict[str, SqlInputs]
    # The project's on-run-start hooks, run before measuring (`orc dbt`, not `orc plan`).
    start_hooks: HookRun = field(default_factory=HookRun)
    # The dbt target this run defers to (dbt/deferral.py), None for none; what the run
    # measured of it, and the unselected parents dbt reads from there (unique id: that
    # target's relation).
    defers_to: str | None = None
    deferred: DeferredTarget | None = None
    deferred_reads: dict[str, str] = field(default_factory=dict)
    # What `orc dbt retry` runs again (the selection), each with why (dbt/retry.py).
    rerun: Mapping[str, str] = field(default_factory=dict)
    # The seconds of each phase so far; the rest of the run adds its own.
    phases: Phases = field(default_factory=Phases)

    @property
    def nodes(self) -> dict[str, Node]:
        return self.graph.nodes

    def hook_writers(self, node_ids: Collection[str]) -> dict[str, str]:
        """Of `node_ids`, the nodes whose hooks write rows that nodes read, with what they
        write (dbt/hook_writes.py)."""
        reader = SqlInputReader(self.session)
        return hooks_writing_elsewhere(reader, self.nodes, self.sql_inputs, node_ids)


def make_plan(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    on_wait: Callable[[str], None] | None = None,
    run_start_hooks: bool = False,
    rerun: Mapping[str, str] | None = None,
) -> PlannedRun:
    """Everything up to the decision; reads the warehouse, writes nothing, except what the
    project's on-run-start hooks write when `run_start_hooks` (they run before anything is
    measured, as dbt runs them before any node). `rerun` replaces the command's selection
    for a retry: those nodes are built, whatever the state says (each with why)."""
    phases = Phases()
    collect_less_often()  # before dbt's parse, the first of dbt's work in this process
    location = configured_location(settings)  # before the parse: a typo fails fast
    with phases.timed("parse"):
        session = DbtSession(command, manifest_written_later=True)
    defers_to = deferred_target(session, settings)
    warehouse = Warehouse(session, settings.require_explicit_source_freshness)
    # A warehouse state is read and written with the command's own project and target.
    with phases.timed("state_open"):
        backend = open_backend(settings, location=location, on_wait=on_wait, dbt=lambda: warehouse)
    with phases.timed("selection"):
        if rerun is None:
            selected = session.selected_ids()
        else:
            selected = [uid for uid in session.runnable if uid in rerun]
    for warning in session.selection_warnings:
        console.relay(warning)
    started = None
    if run_start_hooks and selected:  # dbt runs no hook when nothing is selected
        with phases.timed("start_hooks"):
            started = ProjectHooks(session).run_start(selected)
    with phases.timed("fingerprints"):
        graph = read_graph(session, selected, env)
        session.project_cache(env).save()
    if not warehouse.has_package:
        console.say(WITHOUT_PACKAGE, "debug")  # nothing is missing unless the hooks or backend are
    decided = decide(
        session,
        backend,
        graph,
        selected,
        command,
        settings,
        warehouse,
        defers_to,
        rerun or {},
        phases=phases,
    )
    return decided if started is None else replace(decided, start_hooks=started)


def decide(
    session: DbtSession,
    backend: StateBackend,
    graph: ProjectGraph,
    selected: list[str],
    command: DbtCommand,
    settings: Settings,
    warehouse: Warehouse,
    defers_to: str | None = None,
    rerun: Mapping[str, str] = MappingProxyType({}),
    *,
    phases: Phases,
) -> PlannedRun:
    """Read the state, measure and plan: the decision on the state and data as they are now
    (again after waiting for another run); with `defers_to`, builds that may be clones of
    that target's tables are clones; `rerun`: what a retry builds again, and why. Each
    step's seconds add to `phases`."""
    nodes = graph.nodes
    scope = session.key_scope(settings)
    with phases.timed("state_read"):
        stored = backend.load()
        state = scope.records_of(nodes, stored)
    hooked = [
        uid
        for uid, record in state.items()
        if record.hook_fingerprint is not None and uid not in graph.computed_reads
    ]
    with phases.timed("hook_fingerprints"):
        for uid, found in warehouse.hook_fingerprints(hooked).items():
            nodes[uid] = replace(nodes[uid], hook_fingerprint=found)
    with phases.timed("freshness"):
        freshness, errors = warehouse.measure_freshness(sources_to_measure(nodes, selected))
    for uid, error in errors.items():
        console.warn(f"could not measure the freshness of {nodes[uid].label}: {error}")
    with phases.timed("existing_relations"):
        existing = warehouse.existing_relations(looked_at(nodes, selected, defers_to))
    reader = SqlInputReader(session)
    with phases.timed("sql_inputs"):
        sql_inputs = reader.read(nodes, selected, state)
    with phases.timed("data_versions"):
        versions = observe_versions(nodes, selected, freshness, warehouse, reader, sql_inputs)
    deferred = None
    if defers_to is not None:
        wanted = {i for uid in selected for i in (uid, *data_inputs(nodes, uid))}
        records = scope.records_of_target(nodes, stored, defers_to)
        relevant = {uid: record for uid, record in records.items() if uid in wanted}
        with phases.timed("deferral"):
            deferred = measure_deferred(warehouse, defers_to, relevant, nodes)
    views = [uid for uid in selected if nodes[uid].materialized == "view"]
    everywhere = command.partial_data_everywhere
    options = PlanOptions(
        full_refresh=command.full_refresh,
        rebuild_reason=rebuild_reason(
            command.partial_data_flags if everywhere else [], command.full_refresh
        ),
        forced={
            **{uid: f"dbt retry runs it again: {why}" for uid, why in rerun.items()},
            **{
                uid: backfill_reason(command.partial_data_flags)
                for uid in ([] if everywhere else partial_data_nodes(command, session, selected))
            },
        },
        unit_tests_run_with_their_model=command.subcommand == "build",
        views_keep_their_columns=warehouse.views_keep_their_columns,
        build_every_seed=not settings.seed_state_orchestration,
        deferred_reads={}
        if deferred is None
        else deferred_parents(nodes, selected, views, deferred, existing),
    )
    now = datetime.now(UTC)
    with phases.timed("planning"):
        decided = plan(nodes, selected, state, versions, existing, now, options, sql_inputs)
    if deferred is not None:
        with phases.timed("deferral"):
            decided = with_clones(
                nodes, selected, decided, deferred, versions, existing, now, options, sql_inputs
            )
    return PlannedRun(
        session,
        backend,
        graph,
        decided,
        state,
        freshness,
        versions,
        warehouse,
        selected,
        sql_inputs,
        defers_to=defers_to,
        deferred=deferred,
        deferred_reads=deferred_parents(nodes, selected, decided.ids("build"), deferred, existing)
        if deferred is not None
        else {},
        rerun=rerun,
        phases=phases,
    )


def partial_data_nodes(
    command: DbtCommand, session: DbtSession, selected: Collection[str]
) -> list[str]:
    """The selected nodes this command builds with partial data, whose records it forgets:
    every one under --empty or --sample; under --event-time-* only microbatch models, the
    only ones dbt applies those flags to."""
    if not command.partial_data_flags:
        return []
    if command.partial_data_everywhere:
        return list(selected)
    runnable = session.runnable
    return [
        uid
        for uid in selected
        if getattr(getattr(runnable.get(uid), "config", None), "incremental_strategy", None)
        == "microbatch"
    ]


def looked_at(
    nodes: Mapping[str, Node], selected: Collection[str], defers_to: str | None
) -> list[Node]:
    """The nodes whose relations must be known to exist: the selected ones, and with
    deferral their parents and the relations they name through ephemeral models (whether
    those exist here decides what dbt reads)."""
    uids = set(selected)
    if defers_to:
        for uid in selected:
            uids.update(nodes[uid].parents, named_relations(nodes, uid, {}))
    return [nodes[uid] for uid in uids if uid in nodes]


def measure_data_versions(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    warehouse: Warehouse,
    reader: SqlInputReader,
    sql_inputs: Mapping[str, SqlInputs],
) -> tuple[set[str], dict[str, Any], dict[str, dict[str, str]] | None, str | None]:
    """One data_versions call for every source and table the plan of `selected` depends on
    and every relation named in the compiled SQL (what the plan reads, and what a build
    measures for the next run): those ids, those relations by key, and the call's answer."""
    wanted = versioned_relations(nodes, selected)
    named = reader.relations(sql_inputs.values())
    return wanted, named, *warehouse.data_versions(wanted, named.values())


def observe_versions(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    freshness: Mapping[str, datetime | None],
    warehouse: Warehouse,
    reader: SqlInputReader,
    sql_inputs: Mapping[str, SqlInputs],
) -> dict[str, DataVersion]:
    """The data version of every source and table the plan depends on, and of every input
    found in the selected models' compiled SQL, measured now; a source's `loaded_at`
    maximum is one of its fields, a clock expression's value is its version."""
    wanted, named, measured, error = measure_data_versions(
        nodes, selected, warehouse, reader, sql_inputs
    )
    if error is not None:
        console.warn(f"could not measure data versions (they count as changed): {error}")
    found = measured or {}
    clocks, clock_error = reader.clock_values(sql_inputs.values())
    if clock_error:
        console.warn(f"could not evaluate the clock (it counts as changed): {clock_error}")
    return {
        **{
            uid: source_version(freshness.get(uid), found.get(uid, {}))
            if nodes[uid].resource_type == "source"
            else found.get(uid, {})
            for uid in wanted
        },
        **{key: found.get(key, {}) for key in named},
        **clocks,
    }
