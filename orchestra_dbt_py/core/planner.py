"""The decision: which selected nodes to build and which to reuse, and why.

A pure function over plain data (graph, state, observed data versions, the clock): no dbt
import and no I/O here. Anything that cannot be proven safe to reuse is built.
The rules are written out in docs/design.md ("When a node may be reused").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Literal

from orchestra_dbt_py.core.finished import describe_outcome
from orchestra_dbt_py.core.graph import (
    PASS_THROUGH,
    RELATION_TYPES,
    TEST_TYPES,
    BuildAfter,
    Node,
    data_inputs,
    describe_duration,
    describe_moment,
    effective_build_after,
    holds_data,
    named_relations,
    sources_to_measure,
    topological_order,
)
from orchestra_dbt_py.core.implicit import SqlInputs, every_run_reason, unmeasured_inputs
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import LOADED_AT, DataVersion, describe_change, loaded_at
from orchestra_dbt_py.core.vouching import record_problem

Action = Literal["build", "reuse", "clone"]
_fmt = describe_moment


@dataclass(frozen=True)
class PlanOptions:
    """How this run's dbt command changes the decision."""

    full_refresh: bool = False
    # Set when the run must build every selected node without consulting the state.
    rebuild_reason: str | None = None
    # Nodes this run builds whatever the state says, each with its reason: those a
    # backfill (--event-time-*) builds partial data of, those `dbt retry` reruns.
    forced: Mapping[str, str] = field(default_factory=dict)
    # `dbt build` runs a unit test only together with its model (`dbt test` runs it alone).
    unit_tests_run_with_their_model: bool = False
    # Whether a view keeps the inputs' columns of when it was created, so that it must be
    # created again when a relation it names is rebuilt (Warehouse.views_keep_their_columns).
    views_keep_their_columns: bool = False
    # dbt-orchestra's `seed_state_orchestration = false`: seeds are built on every run.
    build_every_seed: bool = False
    # The unselected parents a view created in this run would read from the target it
    # defers to (unique id: that target's relation; `cloning.deferred_parents`).
    deferred_reads: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    unique_id: str
    action: Action
    reason: str
    # The deferred target's relation a clone copies (a build may start from one: pre_clone).
    clone_from: str | None = None


@dataclass(frozen=True)
class Plan:
    decisions: dict[str, Decision] = field(default_factory=dict)
    # Sources whose data version could not be measured but that selected nodes read.
    unmeasured_sources: tuple[str, ...] = ()
    # Inputs found in selected models' compiled SQL that cannot be measured (their labels),
    # and the models whose compiled SQL cannot be read.
    unmeasured_inputs: tuple[str, ...] = ()
    unreadable_sql: tuple[str, ...] = ()

    def ids(self, action: Action) -> list[str]:
        return [d.unique_id for d in self.decisions.values() if d.action == action]


def plan(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    state: Mapping[str, NodeRecord],
    versions: Mapping[str, DataVersion],
    existing_relations: Collection[str],
    now: datetime,
    options: PlanOptions = PlanOptions(),
    sql_inputs: Mapping[str, SqlInputs] = MappingProxyType({}),
) -> Plan:
    """Decide, for every selected node, whether dbt must run it.

    `state` and `versions` are keyed by unique id: `versions` holds the data version
    observed now of every source the selection reads and of every table it reads or
    builds (missing or empty: could not be measured), and of every input `sql_inputs`
    names (keyed by the input's key). `sql_inputs` holds, per model, what its compiled SQL
    reads beyond its refs and sources (absent: nothing orc looks for). `existing_relations`
    holds the lower-cased relation names present in the warehouse now.
    """
    selected_set = set(selected)
    policies = effective_build_after(nodes)
    existing = {r.lower() for r in existing_relations}
    decisions: dict[str, Decision] = {}
    building: set[str] = set()
    forced = _models_forced_by_unit_tests(nodes, selected_set, state, now, options)

    for uid in topological_order(nodes):
        if uid not in selected_set:
            continue
        node = nodes[uid]
        context = _Context(nodes, state, versions, building, now, sql_inputs)
        if node.resource_type == "unit_test":
            action, reason = _decide_unit_test(node, context, options)
        elif node.resource_type in TEST_TYPES:
            action, reason = _decide_test(node, context, options)
        elif uid in forced:
            action, reason = "build", forced[uid]
        elif node.resource_type == "seed" and options.build_every_seed:
            action, reason = "build", "seed_state_orchestration is off: seeds build every run"
        elif node.resource_type in RELATION_TYPES:
            action, reason = _decide_relation(
                node, context, existing, policies.get(uid), now, options
            )
        else:
            action, reason = "build", f"orc does not track {node.resource_type} nodes"
        if action == "build":
            building.add(uid)
        decisions[uid] = Decision(uid, action, reason)
    return Plan(
        decisions,
        unmeasured_sources(nodes, selected_set, versions),
        *unmeasured_inputs(sql_inputs, selected_set, versions),
    )


def unmeasured_sources(
    nodes: Mapping[str, Node], selected: Collection[str], versions: Mapping[str, DataVersion]
) -> tuple[str, ...]:
    """The sources the selected nodes read (through views) that have no data version now,
    whatever the decisions: they count as changed wherever they are compared. Unit tests
    read fixtures, not sources."""
    reading = [u for u in selected if u in nodes and nodes[u].resource_type != "unit_test"]
    return tuple(sorted(s for s in sources_to_measure(nodes, reading) if not versions.get(s)))


@dataclass
class _Context:
    nodes: Mapping[str, Node]
    state: Mapping[str, NodeRecord]
    versions: Mapping[str, DataVersion]
    building: set[str]
    now: datetime
    sql_inputs: Mapping[str, SqlInputs]


def _decide_relation(
    node: Node,
    ctx: _Context,
    existing: Collection[str],
    policy: BuildAfter | None,
    now: datetime,
    options: PlanOptions,
) -> tuple[Action, str]:
    if node.materialized == "ephemeral":
        return "reuse", "ephemeral: compiled into the models that use it"
    record = ctx.state.get(node.unique_id)
    problem = _forced(node, options) or record_problem(node, record, ctx.now)
    if problem or record is None:
        return "build", problem or "no build recorded"
    if node.relation is None or node.relation.lower() not in existing:
        return "build", f"relation {node.relation} does not exist in the warehouse"
    if node.materialized == "view":
        named = named_relations(ctx.nodes, node.unique_id, options.deferred_reads)
        rebuilt = options.views_keep_their_columns and next(
            (parent for parent in sorted(named) if parent in ctx.building), None
        )
        if rebuilt:
            return "build", (
                f"upstream {ctx.nodes[rebuilt].label} is built in this run, and on this "
                "warehouse a view keeps the columns it was created with (or is dropped)"
            )
        renamed = _renamed_parent(record, named, ctx)
        if renamed:
            return "build", renamed
        return "reuse", "view with an unchanged definition: its data is always current"

    every_run = every_run_reason(ctx.sql_inputs.get(node.unique_id) or SqlInputs())
    if every_run is not None:
        return "build", every_run

    built_at = _fmt(record.last_updated)
    changed_outside = _own_table_change(node, record, ctx)
    if changed_outside:
        return "build", changed_outside
    changes, parent_count = _data_changes(node, record, ctx)
    if not changes:
        return "reuse", f"definition and upstream data unchanged since its build at {built_at}"
    if policy is not None:
        due = _after(record.last_updated, policy.window)
        origin = _policy_origin(node, policy, ctx)
        if now < due:
            return "reuse", (
                f"{changes[0]}, but build_after {describe_duration(policy.window)}{origin} "
                f"has not passed since its build at {built_at} (due {_fmt(due)})"
            )
        if policy.updates_on == "all" and len(changes) < parent_count:
            return "reuse", (
                f"build_after{origin} waits for new data in all upstreams (updates_on: all); "
                f"{len(changes)} of {parent_count} have it: {changes[0]}"
            )
    return "build", changes[0]


def _policy_origin(node: Node, policy: BuildAfter, ctx: _Context) -> str:
    """` (inherited from its child fct)` for a policy declared downstream, else nothing."""
    if policy.inherited_from is None:
        return ""
    declarer = ctx.nodes[policy.inherited_from]
    if node.unique_id in declarer.parents:
        return f" (inherited from its child {declarer.label})"
    return f" (inherited from {declarer.label}, downstream of it)"


def _renamed_parent(record: NodeRecord, now: Mapping[str, str], ctx: _Context) -> str | None:
    """Why a view must be created again because a relation its SQL named when it was
    created (its record) is not the one it would name `now` (a parent moved to another
    alias or schema, or is read from another target): the view still reads the old one."""
    then = record.parent_relations
    if then is None:
        # A view over sources alone names nothing that can move: their relations are in
        # its fingerprint. Any other view recorded before orc kept this is created again.
        return "its record does not say which relations it reads (an older orc)" if now else None
    for parent in sorted(now.keys() | then.keys()):
        was, is_ = then.get(parent), now.get(parent)
        if was == is_:
            continue
        label = ctx.nodes[parent].label if parent in ctx.nodes else parent
        if was is None or is_ is None:
            return f"the relations it reads changed: {label} is {'new' if was is None else 'gone'}"
        return f"it still reads {label} as {was}, which is {is_} now"
    return None


def _decide_test(node: Node, ctx: _Context, options: PlanOptions) -> tuple[Action, str]:
    for parent in node.parents:
        if parent in ctx.building:
            return "build", f"runs because {ctx.nodes[parent].label} is built in this run"
    record = ctx.state.get(node.unique_id)
    problem = _forced(node, options) or record_problem(node, record, ctx.now)
    if problem or record is None:
        return "build", problem or "no run recorded"
    changes, _ = _data_changes(node, record, ctx)
    if changes:
        return "build", changes[0]
    return "reuse", f"unchanged, its data unchanged, and it passed at {_fmt(record.last_updated)}"


def _decide_unit_test(node: Node, ctx: _Context, options: PlanOptions) -> tuple[Action, str]:
    """Unit tests read fixtures, not warehouse data: only their definition (which covers
    their model's) and their last result matter."""
    for parent in node.parents:
        if parent in ctx.building:
            return "build", f"runs with {ctx.nodes[parent].label}, which is built in this run"
    record = ctx.state.get(node.unique_id)
    problem = _forced(node, options) or record_problem(node, record, ctx.now)
    if problem:
        return "build", problem
    return "reuse", "unit test and the model it tests are unchanged, and it passed"


def _models_forced_by_unit_tests(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    state: Mapping[str, NodeRecord],
    now: datetime,
    options: PlanOptions,
) -> dict[str, str]:
    """Models that must be built so that a unit test that needs to run does."""
    if not options.unit_tests_run_with_their_model:
        return {}
    forced: dict[str, str] = {}
    for uid in selected:
        node = nodes[uid]
        if node.resource_type != "unit_test":
            continue
        problem = record_problem(node, state.get(uid), now)
        if problem:
            for parent in node.parents:
                if parent in selected and nodes[parent].resource_type == "model":
                    forced[parent] = (
                        f"its unit test {node.label} must run ({problem}), "
                        "and dbt build runs unit tests only with their model"
                    )
    return forced


def _forced(node: Node, options: PlanOptions) -> str | None:
    """Why the run builds this node without consulting the state, if it does."""
    return options.forced.get(node.unique_id) or options.rebuild_reason


def rebuild_reason(partial_data_flags: Sequence[str], full_refresh: bool) -> str | None:
    """Why a run must build every selected node without consulting the state, if it must
    (`partial_data_flags`: the flags that make every node build partial data)."""
    if partial_data_flags:
        flags = " ".join(partial_data_flags)
        return f"{flags} builds partial data: nothing is reused, and what is built is forgotten"
    if full_refresh:
        return "--full-refresh requested"
    return None


def backfill_reason(flags: Sequence[str]) -> str:
    """Why a microbatch model is built under --event-time-* (dbt's backfill of its batches)."""
    return (
        f"{' '.join(flags)} backfills some batches of this microbatch model: it is built, "
        "and forgotten (its next run builds it and its readers again)"
    )


def _data_changes(node: Node, record: NodeRecord, ctx: _Context) -> tuple[list[str], int]:
    """Why the data this node reads differs from what it was built from, one reason per
    direct parent with new data (a view has new data when any of its inputs has) and per
    input found in its compiled SQL that changed, and the number of those inputs."""
    changes: list[str] = []
    for parent_id in node.parents:
        if parent_id not in ctx.nodes:
            changes.append(f"upstream {parent_id} is not in the project")
            continue
        inputs = [parent_id, *data_inputs(ctx.nodes, parent_id)]
        if ctx.nodes[parent_id].materialized not in PASS_THROUGH:
            inputs = [parent_id]
        found = [
            c for c in (_input_change(i, record, ctx) for i in inputs if _is_data(ctx, i)) if c
        ]
        if found:
            changes.append(found[0])
    in_sql = ctx.sql_inputs.get(node.unique_id) or SqlInputs()
    changes += in_sql.changes(record.reads, ctx.versions)
    return changes, len(node.parents) + len(in_sql.measured())


def _is_data(ctx: _Context, uid: str) -> bool:
    return uid in ctx.nodes and ctx.nodes[uid].materialized != "ephemeral"


def _input_change(input_id: str, record: NodeRecord, ctx: _Context) -> str | None:
    upstream = ctx.nodes[input_id]
    if upstream.resource_type == "source":
        return _source_change(upstream, record, ctx)
    if input_id in ctx.building:
        return f"upstream {upstream.label} is built in this run"
    upstream_record = ctx.state.get(input_id)
    if upstream_record is None:
        return f"upstream {upstream.label} has no build recorded, so its data version is unknown"
    outcome = describe_outcome(upstream, upstream_record)
    if outcome is not None:
        return f"upstream {upstream.label}: {outcome}"
    seen = record.upstream.get(input_id)
    if seen is None:
        return f"upstream {upstream.label} was not recorded as an input of the last build"
    if upstream_record.last_updated > seen:
        return (
            f"upstream {upstream.label} was rebuilt at {_fmt(upstream_record.last_updated)}, "
            f"after the build this one read ({_fmt(seen)})"
        )
    if upstream_record.last_updated != seen:
        return (
            f"upstream {upstream.label} is recorded as built at "
            f"{_fmt(upstream_record.last_updated)}, not at {_fmt(seen)} as when this one read it"
        )
    moved = _own_table_change(upstream, upstream_record, ctx)
    if moved:
        return f"upstream {upstream.label}: {moved}"
    return None


def _source_change(source: Node, record: NodeRecord, ctx: _Context) -> str | None:
    observed = ctx.versions.get(source.unique_id) or {}
    if not observed:
        return (
            f"source {source.label} has no measurable freshness or data version, "
            "so it counts as changed"
        )
    recorded = record.data_versions.get(source.unique_id)
    if recorded is None:
        return f"source {source.label} has no data version recorded for the last build"
    change = describe_change(recorded, observed)
    if change is None:
        return None
    before, now = loaded_at(recorded), loaded_at(observed)
    if before is not None and now is not None and before != now:
        others = describe_change(
            {k: v for k, v in recorded.items() if k != LOADED_AT},
            {k: v for k, v in observed.items() if k != LOADED_AT},
        )
        also = f" (and {others})" if others else ""
        if now > before:
            return (
                f"source {source.label} has data from {_fmt(now)}, newer than the "
                f"{_fmt(before)} this was built from{also}"
            )
        return (
            f"source {source.label} now reports {_fmt(now)}, not the {_fmt(before)} "
            f"this was built from{also}"
        )
    return f"source {source.label} changed since this was built: {change}"


def _own_table_change(node: Node, record: NodeRecord, ctx: _Context) -> str | None:
    """Why the table of a node orc built no longer holds what that build wrote, if so."""
    if not holds_data(node):
        return None
    if record.version is None:
        return "recorded without a data version of its table (by an older orc or another tool)"
    if not record.version:
        return None  # the warehouse offered no signal when it was built: nothing to compare
    observed = ctx.versions.get(node.unique_id) or {}
    if not observed:
        return "its table's data version cannot be measured now, so it counts as changed"
    change = describe_change(record.version, observed)
    if change is None:
        return None
    return f"its table changed outside orc since its build at {_fmt(record.last_updated)}: {change}"


def _after(moment: datetime, window: timedelta) -> datetime:
    try:
        return moment + window
    except OverflowError:  # a window reaching past the year 9999 never passes
        return datetime.max.replace(tzinfo=UTC)
