"""Clone instead of build: when the target this run defers to holds a current table of the
same definition, a selected node that must be built copies that table instead.

Pure, like the planner whose decisions it refines: the deferred target's records are judged
by the planner's own reuse rules, applied in that target (its relations, their existence
and data versions now), so a clone is exactly a reuse there. See docs/design.md.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from orchestra_dbt_py.core.graph import (
    PASS_THROUGH,
    RELATION_TYPES,
    Node,
    named_relations,
    topological_order,
)
from orchestra_dbt_py.core.implicit import SqlInputs
from orchestra_dbt_py.core.planner import Decision, Plan, PlanOptions, plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion

__all__ = ["CLONED", "DeferredTarget", "deferred_parents", "with_clones"]

# Materializations whose table may be cloned; a view is free to build, a test checks data.
CLONED = frozenset({"table", "incremental", "seed", "snapshot"})
# Materializations that build on top of their last table, so may start from a clone.
PRE_CLONED = frozenset({"incremental", "snapshot"})


@dataclass(frozen=True)
class DeferredTarget:
    """The target this run defers to, as measured now: its records (by unique id), which
    of their relations exist (lower-cased names) and the data versions of their tables (by
    lower-cased relation name)."""

    name: str
    records: Mapping[str, NodeRecord]
    existing: Collection[str] = frozenset()
    versions: Mapping[str, DataVersion] = field(default_factory=dict)

    def relation_of(self, uid: str) -> str | None:
        """The deferred target's relation of a node, when that relation exists now."""
        record = self.records.get(uid)
        if record is None or record.relation is None:
            return None
        return record.relation if record.relation.lower() in self.existing else None


def with_clones(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    decided: Plan,
    deferred: DeferredTarget,
    versions: Mapping[str, DataVersion],
    existing_here: Collection[str],
    now: datetime,
    options: PlanOptions,
    sql_inputs: Mapping[str, SqlInputs] = MappingProxyType({}),
) -> Plan:
    """`decided` with the builds that may be clones of the deferred target's tables turned
    into clones, and incremental models and snapshots that start from one (pre_clone)
    saying so. `existing_here` holds the lower-cased relation names that exist in this
    target (of the selected nodes and of their parents)."""
    if options.rebuild_reason is not None:
        return decided
    there = _reuse_there(nodes, selected, deferred, versions, now, options, sql_inputs)
    here = {r.lower() for r in existing_here}
    decisions = dict(decided.decisions)
    with_model = options.unit_tests_run_with_their_model
    tested = _run_with_unit_tests(nodes, decisions) if with_model else {}
    for uid in topological_order(nodes):
        current = decisions.get(uid)
        # A node the command itself builds (a backfill's, a retry's) is built, not cloned.
        if current is None or current.action != "build" or uid in options.forced:
            continue
        node = nodes[uid]
        source = deferred.records[uid].relation if uid in deferred.records else None
        if node.materialized not in CLONED or source is None or _same(source, node.relation):
            continue
        blocked = there.get(uid) or _blocked_here(node, nodes, selected, decisions, here)
        blocked = blocked or tested.get(uid)
        if blocked is None:
            reason = f"clone of {source}: same definition, its data current"
            decisions[uid] = Decision(uid, "clone", reason, clone_from=source)
        elif node.materialized in PRE_CLONED and _pre_clones(node, deferred, here):
            decisions[uid] = replace(
                current,
                reason=f"{current.reason}; starts from a clone of {source} "
                f"(pre_clone: {node.pre_clone})",
                clone_from=source,
            )
        else:
            decisions[uid] = replace(current, reason=f"{current.reason} (no clone: {blocked})")
    return replace(decided, decisions=decisions)


def deferred_parents(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    readers: Iterable[str],
    deferred: DeferredTarget,
    existing_here: Collection[str],
) -> dict[str, str]:
    """The unselected parents the `readers` name (through ephemeral models) whose relation
    is missing in this target and exists in the deferred one, with that relation: dbt reads
    them from there when it builds the readers."""
    here = {r.lower() for r in existing_here}
    found: dict[str, str] = {}
    for uid in readers:
        for parent, own in named_relations(nodes, uid, {}).items():
            if parent in selected or own.lower() in here:
                continue
            relation = deferred.relation_of(parent)
            if relation is not None:
                found[parent] = relation
    return found


def _reuse_there(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    deferred: DeferredTarget,
    versions: Mapping[str, DataVersion],
    now: datetime,
    options: PlanOptions,
    sql_inputs: Mapping[str, SqlInputs],
) -> dict[str, str | None]:
    """For each selected node with a deferred record: None when the planner would reuse it
    in the deferred target now (unselected nodes judged as the planner judges them), else
    why not. There, data must be current: build_after windows, which tolerate stale data,
    do not count."""
    there: dict[str, Node] = {}
    there_versions = {k: v for k, v in versions.items() if k not in nodes or _is_source(nodes, k)}
    for uid, node in nodes.items():
        record = deferred.records.get(uid)
        if record is None or node.resource_type not in RELATION_TYPES:
            there[uid] = replace(node, build_after=None)
            continue
        there[uid] = replace(node, relation=record.relation, build_after=None)
        if record.relation is not None:
            there_versions[uid] = deferred.versions.get(record.relation.lower(), {})
    judged = [u for u in selected if u in deferred.records and there[u].relation is not None]
    judged_options = PlanOptions(build_every_seed=options.build_every_seed)
    found = plan(
        there,
        judged,
        deferred.records,
        there_versions,
        deferred.existing,
        now,
        judged_options,
        sql_inputs,
    )
    return {
        uid: None if d.action == "reuse" else f"in {deferred.name}, {d.reason}"
        for uid, d in found.decisions.items()
    }


def _blocked_here(
    node: Node,
    nodes: Mapping[str, Node],
    selected: Collection[str],
    decisions: Mapping[str, Decision],
    here: Collection[str],
) -> str | None:
    """Why a copy of the deferred table would not hold what dbt builds here, if so: a table
    it reads is built in this run, or an unselected input exists here (dbt reads that one,
    not the deferred target's). Views and ephemeral models are looked through: the deferred
    table was judged current through them with this run's definitions, so a view built
    here reads what the deferred one reads."""
    stack = list(node.parents)
    seen: set[str] = set()
    while stack:
        uid = stack.pop()
        parent = nodes.get(uid)
        if uid in seen or parent is None or parent.resource_type == "source":
            continue
        seen.add(uid)
        if uid not in selected:
            if parent.relation is not None and parent.relation.lower() in here:
                return f"unselected upstream {parent.label} exists here and is read from here"
            continue
        decision = decisions.get(uid)
        passing = parent.materialized in PASS_THROUGH
        if decision is not None and decision.action == "build" and not passing:
            return f"upstream {parent.label} is built in this run"
        if passing:
            stack.extend(parent.parents)
    return None


def _run_with_unit_tests(
    nodes: Mapping[str, Node], decisions: Mapping[str, Decision]
) -> dict[str, str]:
    """The models whose unit test runs: `dbt build` runs it only with its model, so the
    model is built (why, by model)."""
    found: dict[str, str] = {}
    for uid, decision in decisions.items():
        node = nodes[uid]
        if node.resource_type == "unit_test" and decision.action == "build":
            for parent in node.parents:
                found[parent] = f"its unit test {node.label} runs, and only with its model"
    return found


def _pre_clones(node: Node, deferred: DeferredTarget, here: Collection[str]) -> bool:
    if deferred.relation_of(node.unique_id) is None or node.pre_clone == "never":
        return False
    return node.pre_clone == "always" or (node.relation or "").lower() not in here


def _same(relation: str, other: str | None) -> bool:
    return other is not None and relation.lower() == other.lower()


def _is_source(nodes: Mapping[str, Node], uid: str) -> bool:
    return nodes[uid].resource_type == "source"
