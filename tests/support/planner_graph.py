"""The planner tests' small graph: a project of plain data, its good state and the times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from orchestra_dbt_py.core.graph import (
    Node,
    data_inputs,
    holds_data,
    named_relations,
    topological_order,
)
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion, source_version

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUILT = NOW - timedelta(hours=2)
SEEN = NOW - timedelta(hours=3)  # freshness each source had at the last build
HOUR = timedelta(hours=1)

ORDERS = "source.p.raw.orders"
PAYMENTS = "source.p.raw.payments"
STG_ORDERS = "model.p.stg_orders"  # view on ORDERS
STG_PAYMENTS = "model.p.stg_payments"  # view on PAYMENTS
EPH = "model.p.eph"  # ephemeral on STG_ORDERS
INT = "model.p.int_orders"  # table on EPH and STG_PAYMENTS
FCT = "model.p.fct"  # table on INT
REPORT = "model.p.report"  # view on FCT
SEED = "seed.p.statuses"
TEST_FCT = "test.p.not_null_fct_id"  # on FCT
TEST_REL = "test.p.rel_fct_int"  # on FCT and INT
TEST_SRC = "test.p.not_null_orders"  # on source ORDERS


def relation(uid: str) -> str:
    return f'"db"."main"."{uid.rsplit(".", 1)[-1]}"'


def graph(**overrides: Node) -> dict[str, Node]:
    def model(uid: str, materialized: str, *parents: str) -> Node:
        rel = None if materialized == "ephemeral" else relation(uid)
        return Node(uid, "model", materialized, parents, rel, f"fp-{uid}")

    nodes = [
        Node(ORDERS, "source"),
        Node(PAYMENTS, "source"),
        model(STG_ORDERS, "view", ORDERS),
        model(STG_PAYMENTS, "view", PAYMENTS),
        model(EPH, "ephemeral", STG_ORDERS),
        model(INT, "table", EPH, STG_PAYMENTS),
        model(FCT, "table", INT),
        model(REPORT, "view", FCT),
        Node(SEED, "seed", "seed", (), relation(SEED), f"fp-{SEED}"),
        Node(TEST_FCT, "test", "test", (FCT,), None, f"fp-{TEST_FCT}"),
        Node(TEST_REL, "test", "test", (FCT, INT), None, f"fp-{TEST_REL}"),
        Node(TEST_SRC, "test", "test", (ORDERS,), None, f"fp-{TEST_SRC}"),
    ]
    result = {n.unique_id: n for n in nodes}
    result.update(overrides)
    return result


def versions_of(freshness: Mapping[str, datetime | None]) -> dict[str, DataVersion]:
    """Source versions that hold only a `loaded_at` (unmeasured sources: empty)."""
    return {uid: source_version(moment, {}) for uid, moment in freshness.items()}


def good_state(nodes: dict[str, Node]) -> dict[str, NodeRecord]:
    """State as a complete successful run at BUILT (parents a minute before children) left it."""
    state: dict[str, NodeRecord] = {}
    for i, uid in enumerate(topological_order(nodes)):
        node = nodes[uid]
        if node.resource_type == "source" or node.materialized == "ephemeral":
            continue
        inputs = data_inputs(nodes, uid)
        state[uid] = NodeRecord(
            last_updated=BUILT + timedelta(minutes=i),
            checksum="x",
            sources={i: SEEN for i in inputs if nodes[i].resource_type == "source"},
            data_versions={
                i: source_version(SEEN, {}) for i in inputs if nodes[i].resource_type == "source"
            },
            version={} if holds_data(node) else None,
            fingerprint=node.fingerprint,
            relation=node.relation,
            upstream={i: state[i].last_updated for i in inputs if i in state},
            status="pass" if node.resource_type == "test" else "success",
            parent_relations=named_relations(nodes, uid, {})
            if node.materialized == "view"
            else None,
        )
    return state


NEWER = SEEN + HOUR
