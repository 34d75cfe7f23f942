"""The project graph as the decision sees it: plain nodes, their kinds, and the walks over
them that the planner, the recorder and the reports share (docs/design.md, "The core")."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

# Resource types whose output is a relation with data that orc can reuse.
RELATION_TYPES = frozenset({"model", "seed", "snapshot"})
# Resource types that check data instead of producing it.
TEST_TYPES = frozenset({"test", "unit_test"})
# Materializations whose data is computed when queried, never stored.
PASS_THROUGH = frozenset({"view", "ephemeral"})
# A node's last run vouches for it only with one of these statuses.
PASSING_STATUSES = frozenset({"success", "pass"})
# dbt's statuses of a test that ran to the end (a warning or failure is still a result).
TEST_RESULT_STATUSES = frozenset({"pass", "warn", "fail"})
# dbt's statuses of a node that did not complete.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

Outcome = Literal["passed", "failed", "skipped", "other"]
# When an incremental model or snapshot that must be built first takes a clone of the
# deferred target's table: never, only when its own relation is missing, or every time.
PreClone = Literal["never", "if_missing", "always"]
PRE_CLONE_VALUES: tuple[PreClone, ...] = ("never", "if_missing", "always")


def outcome_of(status: str | None) -> Outcome:
    """What a recorded status says of a build (or a test's run); a record without a status
    (another tool's) counts as passed."""
    if status is None or status in PASSING_STATUSES:
        return "passed"
    if status == "skipped":
        return "skipped"
    return "failed" if status in FAILED_STATUSES else "other"


@dataclass(frozen=True)
class BuildAfter:
    """A model's `freshness.build_after`: tolerate upstream changes for this long.

    `inherited_from` is None for a model's own policy; in `effective_build_after`, a policy
    a model takes from downstream names the model that declares it.
    """

    window: timedelta
    updates_on: Literal["any", "all"] = "any"
    inherited_from: str | None = None

    def describe(self) -> str:
        return f"{describe_duration(self.window)} (updates_on: {self.updates_on})"


@dataclass(frozen=True)
class Node:
    """One node of the dbt graph, reduced to what the decision needs.

    A definition has two fingerprints, by who computed them: `fingerprint` is orc's own
    (orchestra_dbt_py.fingerprint); `hook_fingerprint` is what the dbt package's hooks
    compute, filled in only when a hook-written record must be checked and orc can trust
    the hooks' fingerprint for this node. `definition` holds the named parts of orc's
    fingerprint with a short digest each, which say what changed when it changes.
    """

    unique_id: str
    resource_type: str
    materialized: str | None = None
    parents: tuple[str, ...] = ()
    relation: str | None = None
    fingerprint: str | None = None
    build_after: BuildAfter | None = None
    name: str = ""
    hook_fingerprint: str | None = None
    definition: Mapping[str, str] | None = field(default=None, hash=False)
    pre_clone: PreClone = "if_missing"

    @property
    def label(self) -> str:
        """A short name for messages, like `raw.orders` or `fct_orders`."""
        if self.resource_type == "source":
            return ".".join(self.unique_id.split(".")[-2:])
        return self.name or self.unique_id.rsplit(".", 1)[-1]


def topological_order(nodes: Mapping[str, Node]) -> list[str]:
    """Node ids, parents before children (parents outside `nodes` are ignored)."""
    order: list[str] = []
    state: dict[str, int] = {}
    for root in sorted(nodes):
        if root in state:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(nodes[root].parents))]
        state[root] = 1
        while stack:
            uid, parents = stack[-1]
            advanced = False
            for parent in parents:
                if parent in nodes and parent not in state:
                    state[parent] = 1
                    stack.append((parent, iter(nodes[parent].parents)))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                state[uid] = 2
                order.append(uid)
    return order


def data_inputs(nodes: Mapping[str, Node], uid: str) -> list[str]:
    """The nodes (sources included) whose data versions this node's data depends on.

    Views and ephemeral models are looked through (their data is as new as their
    newest input), but views are listed too: rebuilding a view changes its data.
    """
    return _upstream(nodes, uid, PASS_THROUGH)


def named_relations(
    nodes: Mapping[str, Node], uid: str, deferred_reads: Mapping[str, str]
) -> dict[str, str]:
    """The relation a node's SQL names for each model, seed and snapshot it reads, looking
    through ephemeral models (their SQL is inlined): the parent's own relation, or the
    deferred target's where dbt reads the parent from there (`deferred_reads`). A view
    names them when it is created and reads them by those names from then on."""
    return {
        parent_id: deferred_reads.get(parent_id, relation)
        for parent_id in _upstream(nodes, uid, {"ephemeral"})
        if nodes[parent_id].resource_type in RELATION_TYPES
        and (relation := nodes[parent_id].relation) is not None
    }


def _upstream(nodes: Mapping[str, Node], uid: str, through: Collection[str]) -> list[str]:
    """The nodes a node reads, parents first in their order, each once: models materialized
    as one of `through` are looked through, and listed unless ephemeral (inlined)."""
    found: list[str] = []
    seen: set[str] = set()
    stack = list(reversed(nodes[uid].parents))
    while stack:
        parent_id = stack.pop()
        if parent_id in seen or parent_id not in nodes:
            continue
        seen.add(parent_id)
        parent = nodes[parent_id]
        if parent.materialized != "ephemeral":
            found.append(parent_id)
        if parent.materialized in through and parent.resource_type == "model":
            stack.extend(reversed(parent.parents))
    return found


def sources_to_measure(nodes: Mapping[str, Node], selected: Iterable[str]) -> set[str]:
    """The sources whose freshness decides about the selected nodes (read directly or via views)."""
    found: set[str] = set()
    for uid in selected:
        if uid in nodes:
            for input_id in data_inputs(nodes, uid):
                if nodes[input_id].resource_type == "source":
                    found.add(input_id)
    return found


def versioned_relations(nodes: Mapping[str, Node], selected: Iterable[str]) -> set[str]:
    """The relations whose data versions decide about the selected nodes: the sources and
    tables they read (through views), and the tables they build themselves."""
    found = sources_to_measure(nodes, selected)
    for uid in selected:
        if uid not in nodes:
            continue
        for candidate in (uid, *data_inputs(nodes, uid)):
            if holds_data(nodes[candidate]):
                found.add(candidate)
    return found


def holds_data(node: Node) -> bool:
    """Whether a node's relation stores data that orc built (a table, not a view)."""
    return node.resource_type in RELATION_TYPES and node.materialized not in PASS_THROUGH


def effective_build_after(nodes: Mapping[str, Node]) -> dict[str, BuildAfter]:
    """Each model's own policy, or the strictest of its children's when all of them have one
    (then `inherited_from` names the model that declares it; among equally strict ones, the
    first by unique id)."""
    children: dict[str, list[str]] = {uid: [] for uid in nodes}
    for node in nodes.values():
        if node.resource_type == "model":
            for parent in node.parents:
                if parent in children:
                    children[parent].append(node.unique_id)
    policies: dict[str, BuildAfter | None] = {}

    for uid in reversed(topological_order(nodes)):
        node = nodes[uid]
        if node.resource_type != "model":
            continue
        if node.build_after is not None:
            policies[uid] = replace(node.build_after, inherited_from=None)
            continue
        inherited = [_declared(policies.get(child), child) for child in children[uid]]
        if inherited and all(p is not None for p in inherited):
            policies[uid] = min(
                (p for p in inherited if p is not None),
                key=lambda p: (p.window, p.updates_on != "any", p.inherited_from or ""),
            )
        else:
            policies[uid] = None
    return {uid: p for uid, p in policies.items() if p is not None}


def _declared(policy: BuildAfter | None, holder: str) -> BuildAfter | None:
    """`holder`'s effective policy, naming the model that declares it."""
    if policy is None or policy.inherited_from is not None:
        return policy
    return replace(policy, inherited_from=holder)


def describe_duration(window: timedelta) -> str:
    """`4 hours`, `1 day`, `90 seconds`: the largest whole unit."""
    seconds = int(window.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 node`, `2 nodes`, `0 nodes`; `nouns` when adding an `s` is wrong."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {nouns or noun + 's'}"


def times(count: int) -> str:
    """`once`, `2 times`."""
    return "once" if count == 1 else plural(count, "time")


def describe_moment(moment: datetime) -> str:
    """`0999-01-02 03:04:05` in UTC: the year always has four digits."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "seconds")


def descendants_within(nodes: Mapping[str, Node], among: Collection[str]) -> dict[str, set[str]]:
    """For each node in `among`, the nodes of `among` downstream of it (transitively)."""
    children: dict[str, set[str]] = {uid: set() for uid in among}
    for uid in among:
        for parent in nodes[uid].parents:
            if parent in children:
                children[parent].add(uid)
    found: dict[str, set[str]] = {}

    def below(uid: str) -> set[str]:
        if uid not in found:
            found[uid] = set()
            for child in children[uid]:
                found[uid] |= {child, *below(child)}
        return found[uid]

    for uid in among:
        below(uid)
    return found


def upstream_within(
    nodes: Mapping[str, Node], starts: Collection[str], among: Collection[str]
) -> set[str]:
    """`starts` and the nodes of `among` upstream of them, through any node."""
    found = {uid for uid in starts if uid in among}
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        uid = stack.pop()
        if uid in seen or uid not in nodes:
            continue
        seen.add(uid)
        if uid in among:
            found.add(uid)
        stack.extend(nodes[uid].parents)
    return found
