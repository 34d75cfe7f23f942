"""Clone instead of build: the rule, one case each, on the planner tests' small graph built
in two schemas, `prod` (the deferred target) and `ci` (this run's)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import pytest

from orchestra_dbt_py.core.cloning import DeferredTarget, deferred_parents, with_clones
from orchestra_dbt_py.core.graph import BuildAfter, Node, holds_data
from orchestra_dbt_py.core.planner import PlanOptions, plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion
from tests.support.planner_graph import (
    FCT,
    HOUR,
    INT,
    NEWER,
    NOW,
    ORDERS,
    PAYMENTS,
    REPORT,
    SEED,
    SEEN,
    STG_ORDERS,
    STG_PAYMENTS,
    TEST_FCT,
    TEST_REL,
    good_state,
    graph,
    versions_of,
)


def in_schema(nodes: dict[str, Node], schema: str) -> dict[str, Node]:
    return {
        uid: replace(n, relation=n.relation.replace('"main"', f'"{schema}"')) if n.relation else n
        for uid, n in nodes.items()
    }


def rel(schema: str, uid: str) -> str:
    return f'"db"."{schema}"."{uid.rsplit(".", 1)[-1]}"'


PROD_RECORDS = good_state(in_schema(graph(), "prod"))
UNIT = "unit_test.p.fct.computes"
TABLES = {INT, FCT, SEED}


@dataclass
class Case:
    name: str
    expect_clone: set[str]
    nodes: dict[str, Node] = field(default_factory=lambda: in_schema(graph(), "ci"))
    freshness: dict[str, datetime | None] = field(
        default_factory=lambda: {ORDERS: SEEN, PAYMENTS: SEEN}
    )
    ci_state: dict[str, NodeRecord] = field(default_factory=dict)
    prod_changes: dict[str, NodeRecord | None] = field(default_factory=dict)
    prod_missing: set[str] = field(default_factory=set)
    prod_versions: dict[str, DataVersion] = field(default_factory=dict)
    ci_existing: set[str] = field(default_factory=set)
    selected: set[str] | None = None
    options: PlanOptions = field(default_factory=PlanOptions)
    reason_contains: dict[str, str] = field(default_factory=dict)


def prod_record(uid: str, **changes: object) -> dict[str, NodeRecord | None]:
    return {uid: replace(PROD_RECORDS[uid], **changes)}  # type: ignore[arg-type]


def edited(uid: str, **changes: object) -> dict[str, Node]:
    nodes = in_schema(graph(), "ci")
    nodes[uid] = replace(nodes[uid], **changes)  # type: ignore[arg-type]
    return nodes


CASES = [
    Case(
        "first CI run, production current: its tables cloned, views built",
        TABLES,
        reason_contains={INT: f"clone of {rel('prod', INT)}: same definition, its data current"},
    ),
    Case(
        "new rows in a source production read: what reads them is built, the rest cloned",
        {SEED},
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "no clone: in prod, source raw.orders has data from"},
    ),
    Case(
        "production holds new rows back (build_after): its tables are not current, not cloned",
        {SEED},
        nodes=edited(FCT, build_after=BuildAfter(4 * HOUR, "any")),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "no clone: in prod, source raw.orders has data from"},
    ),
    Case(
        "a model edited in the pull request: built, and what reads it; the rest cloned",
        {INT, SEED},
        nodes=edited(FCT, fingerprint="edited"),
        reason_contains={FCT: "no clone: in prod, definition changed"},
    ),
    Case(
        "a view edited: the tables reading through it are built",
        {SEED},
        nodes=edited(STG_PAYMENTS, fingerprint="edited"),
        reason_contains={INT: "no clone: in prod, upstream stg_payments"},
    ),
    Case(
        "production's table dropped: built, and downstream",
        {SEED},
        prod_missing={rel("prod", INT)},
        reason_contains={INT: "does not exist"},
    ),
    Case(
        "production's table changed outside orc: not cloned",
        {INT, SEED},
        prod_changes=prod_record(FCT, version={"rows": "3"}),
        prod_versions={rel("prod", FCT).lower(): {"rows": "4"}},
        reason_contains={FCT: "changed outside orc"},
    ),
    Case(
        "production's last build failed: not cloned",
        {INT, SEED},
        prod_changes=prod_record(FCT, status="error"),
    ),
    Case(
        "no production record: built",
        {INT, SEED},
        prod_changes={FCT: None},
    ),
    Case("CI current itself: reused, nothing cloned", set(), ci_state=good_state(graph())),
    Case(
        "unselected upstream missing here: deferred to production, so cloned",
        {FCT},
        selected={FCT},
    ),
    Case(
        "unselected upstream that exists here is read from here: built",
        set(),
        selected={FCT},
        ci_existing={rel("ci", INT)},
        reason_contains={FCT: "unselected upstream int_orders exists here"},
    ),
    Case(
        "a unit test that runs under dbt build needs its model built",
        {INT, SEED},
        nodes={
            **in_schema(graph(), "ci"),
            UNIT: Node(UNIT, "unit_test", None, (FCT,), None, "fp-unit"),
        },
        options=PlanOptions(unit_tests_run_with_their_model=True),
        reason_contains={FCT: "no clone: its unit test"},
    ),
    Case(
        "full refresh builds",
        set(),
        options=PlanOptions(full_refresh=True, rebuild_reason="--full-refresh requested"),
    ),
    Case(
        "both targets build into one relation: nothing to clone",
        set(),
        nodes=in_schema(graph(), "prod"),
    ),
]


def run(case: Case) -> dict[str, tuple[str, str, str | None]]:
    nodes = case.nodes
    selected = set(nodes) - {ORDERS, PAYMENTS} if case.selected is None else case.selected
    ci_state = {u: replace(r, relation=nodes[u].relation) for u, r in case.ci_state.items()}
    records = {**PROD_RECORDS, **case.prod_changes}
    prod = {u: r for u, r in records.items() if r is not None}
    prod_tables = {r.relation.lower() for r in prod.values() if r.relation}
    versions = versions_of(case.freshness)
    here = {r.lower() for r in case.ci_existing}
    here |= {n.relation.lower() for u, n in nodes.items() if u in ci_state and n.relation}
    versions.update({u: {} for u, n in nodes.items() if holds_data(n)})
    deferred = DeferredTarget(
        "prod",
        prod,
        prod_tables - {m.lower() for m in case.prod_missing},
        {**{r: {} for r in prod_tables}, **case.prod_versions},
    )
    first = plan(nodes, selected, ci_state, versions, here, NOW, case.options)
    result = with_clones(nodes, selected, first, deferred, versions, here, NOW, case.options)
    return {u: (d.action, d.reason, d.clone_from) for u, d in result.decisions.items()}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_clone_rule(case: Case) -> None:
    decided = run(case)
    assert {u for u, d in decided.items() if d[0] == "clone"} == case.expect_clone
    for uid in case.expect_clone:
        assert decided[uid][2] == rel("prod", uid)
    for uid in {STG_ORDERS, STG_PAYMENTS, REPORT, TEST_FCT, TEST_REL} & set(decided):
        assert decided[uid][0] != "clone"
    for uid, words in case.reason_contains.items():
        assert words in decided[uid][1]


@pytest.mark.parametrize(
    ("pre_clone", "exists_here", "starts_from_clone"),
    [
        ("if_missing", False, True),
        ("if_missing", True, False),
        ("always", True, True),
        ("never", False, False),
    ],
)
def test_pre_clone_of_an_edited_incremental(
    pre_clone: str, exists_here: bool, starts_from_clone: bool
) -> None:
    node = replace(
        in_schema(graph(), "ci")[FCT],
        materialized="incremental",
        fingerprint="edited",
        pre_clone=pre_clone,
    )
    case = Case(
        "edited incremental",
        set(),
        nodes=edited(FCT, materialized="incremental", fingerprint="edited", pre_clone=pre_clone),
        selected={FCT},
        ci_existing={rel("ci", INT)} | ({rel("ci", FCT)} if exists_here else set()),
    )
    action, reason, source = run(case)[node.unique_id]
    assert action == "build"
    assert (source == rel("prod", FCT)) is starts_from_clone
    assert ("starts from a clone" in reason) is starts_from_clone


def test_unselected_parents_missing_here_are_read_from_production() -> None:
    nodes = edited(FCT, fingerprint="edited")
    deferred = DeferredTarget("prod", PROD_RECORDS, {rel("prod", INT).lower()})
    first = plan(nodes, {FCT}, {}, versions_of({ORDERS: SEEN, PAYMENTS: SEEN}), set(), NOW)
    builds = first.ids("build")
    assert deferred_parents(nodes, {FCT}, builds, deferred, set()) == {INT: rel("prod", INT)}
    here = {rel("ci", INT).lower()}
    assert deferred_parents(nodes, {FCT}, builds, deferred, here) == {}
