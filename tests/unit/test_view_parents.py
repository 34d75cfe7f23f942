"""A view reads its parents by the names it was created with: when a parent's relation moves
(another alias or schema, or another target under deferral), the view is created again."""

from __future__ import annotations

from dataclasses import replace

from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.graph import Node, named_relations
from orchestra_dbt_py.core.planner import Plan, PlanOptions, plan
from orchestra_dbt_py.core.records import NodeRecord
from tests.support.planner_graph import (
    EPH,
    FCT,
    NOW,
    ORDERS,
    PAYMENTS,
    REPORT,
    SEED,
    SEEN,
    STG_ORDERS,
    TEST_FCT,
    TEST_REL,
    good_state,
    graph,
    relation,
    versions_of,
)

MOVED = '"db"."marts"."fct"'
PROD_FCT = '"db"."prod"."fct"'
ON_EPH = "model.p.on_eph"  # a view on the ephemeral model and the seed


def with_view_on_ephemeral(nodes: dict[str, Node]) -> dict[str, Node]:
    view = Node(ON_EPH, "model", "view", (EPH, SEED), relation(ON_EPH), f"fp-{ON_EPH}")
    return {**nodes, ON_EPH: view}


def moved(nodes: dict[str, Node], uid: str, to: str) -> dict[str, Node]:
    return {**nodes, uid: replace(nodes[uid], relation=to)}


def decide(
    nodes: dict[str, Node],
    state: dict[str, NodeRecord],
    options: PlanOptions | None = None,
) -> Plan:
    existing = {n.relation for n in nodes.values() if n.relation}
    selected = {uid for uid, n in nodes.items() if n.resource_type != "source"}
    freshness = versions_of({ORDERS: SEEN, PAYMENTS: SEEN})
    return plan(nodes, selected, state, freshness, existing, NOW, options or PlanOptions())


def test_named_relations_look_through_ephemeral_models_to_what_they_inline() -> None:
    nodes = with_view_on_ephemeral(graph())
    assert named_relations(nodes, ON_EPH, {}) == {
        STG_ORDERS: relation(STG_ORDERS),
        SEED: relation(SEED),
    }
    assert named_relations(nodes, REPORT, {FCT: PROD_FCT}) == {FCT: PROD_FCT}
    assert named_relations(nodes, STG_ORDERS, {}) == {}  # sources are in the fingerprint


def test_a_view_over_a_table_that_moves_is_created_again() -> None:
    nodes = moved(graph(), FCT, MOVED)
    decided = decide(nodes, good_state(graph()))
    assert set(decided.ids("build")) == {FCT, REPORT, TEST_FCT, TEST_REL}
    reason = decided.decisions[REPORT].reason
    assert reason == f"it still reads fct as {relation(FCT)}, which is {MOVED} now"


def test_a_view_over_a_table_moved_by_an_earlier_run_is_created_again() -> None:
    """`orc dbt build -s fct` moved the table; the view, not selected then, is built next."""
    nodes = moved(graph(), FCT, MOVED)
    state = good_state(graph())
    state[FCT] = replace(state[FCT], relation=MOVED)
    assert decide(nodes, state).ids("build") == [REPORT]
    assert decide(nodes, good_state(nodes)).ids("build") == []


def test_a_view_whose_ephemeral_input_reads_a_moved_relation_is_created_again() -> None:
    before = with_view_on_ephemeral(graph())
    nodes = moved(before, STG_ORDERS, '"db"."staging"."stg_orders"')
    state = good_state(before)
    state[STG_ORDERS] = replace(state[STG_ORDERS], relation=nodes[STG_ORDERS].relation)
    decided = decide(nodes, state)
    assert ON_EPH in decided.ids("build")
    assert "stg_orders" in decided.decisions[ON_EPH].reason


def test_a_view_record_that_does_not_name_its_reads_is_not_trusted() -> None:
    """Unless the view reads sources alone, whose relations its fingerprint covers."""
    state = good_state(graph())
    for uid in (REPORT, STG_ORDERS):
        state[uid] = replace(state[uid], parent_relations=None)
    decided = decide(graph(), state)
    assert decided.ids("build") == [REPORT]
    assert "older orc" in decided.decisions[REPORT].reason


def test_a_view_created_over_the_deferred_target_follows_where_its_parent_is_read() -> None:
    nodes = graph()
    state = good_state(nodes)
    state[REPORT] = replace(state[REPORT], parent_relations={FCT: PROD_FCT})
    # Still read from there: reused. Built here since: created again, over this target's.
    there = PlanOptions(deferred_reads={FCT: PROD_FCT})
    assert decide(nodes, state, there).ids("build") == []
    decided = decide(nodes, state)
    assert decided.ids("build") == [REPORT]
    assert PROD_FCT in decided.decisions[REPORT].reason


def test_the_record_of_a_view_names_what_its_sql_named_in_that_run() -> None:
    nodes = graph()
    record = finished_record(
        nodes,
        REPORT,
        "success",
        0.5,
        known=good_state(nodes),
        versions={},
        checksum="c",
        now=NOW,
        deferred_reads={FCT: PROD_FCT},
    )
    assert record is not None and dict(record.parent_relations or {}) == {FCT: PROD_FCT}
    table = finished_record(
        nodes, FCT, "success", 0.5, known={}, versions={}, checksum="c", now=NOW
    )
    assert table is not None and table.parent_relations is None
