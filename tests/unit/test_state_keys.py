"""Records of several targets in one state: the key rule, the mirror dbt-orchestra reads,
legacy records, another target's records and the merge of documents holding them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.items import ItemError, parse_item
from orchestra_dbt_py.core.keys import KeyScope, mirror_of
from orchestra_dbt_py.core.records import NodeRecord, merge_states

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
SRC = "source.p.raw.orders"
FCT = "model.p.fct"
TEST = "test.p.not_null_fct_id"
PROD = KeyScope(target="prod", location='"db"."analytics"')
DEV = KeyScope(target="dev", location='"db"."dbt_ann"')


def nodes_in(schema: str) -> dict[str, Node]:
    return {
        FCT: Node(FCT, "model", "table", (SRC,), f'"db"."{schema}"."fct"', "fp-fct"),
        TEST: Node(TEST, "test", "test", (FCT,), None, "fp-t"),
    }


PROD_NODES, DEV_NODES = nodes_in("analytics"), nodes_in("dbt_ann")


def built(node: Node, minutes: int) -> NodeRecord:
    return NodeRecord(
        last_updated=T0 + timedelta(minutes=minutes),
        checksum="sum",
        sources={SRC: T0},
        fingerprint=node.fingerprint,
        relation=node.relation,
        status="success",
        execution_time=1.0,
        version={"rows": "3"},
    )


def written(scope: KeyScope, nodes: dict[str, Node], minutes: int) -> dict[str, NodeRecord]:
    items: dict[str, NodeRecord] = {}
    for node in nodes.values():
        items.update(scope.entries(node, built(node, minutes)))
    return items


def test_keys_are_per_relation_or_per_default_location() -> None:
    assert PROD.key(PROD_NODES[FCT]) == 'model.p.fct@"db"."analytics"."fct"'
    assert DEV.key(DEV_NODES[TEST]) == 'test.p.not_null_fct_id@"db"."dbt_ann"'
    assert DEV.keys(DEV_NODES[FCT]) == [DEV.key(DEV_NODES[FCT]), FCT]
    # An integration account keys by relation already: no mirror, as before.
    account = KeyScope("acct", "prod", '"db"."analytics"')
    assert account.keys(PROD_NODES[FCT]) == ['acct."db"."analytics"."fct"']
    assert account.keys(PROD_NODES[TEST]) == [f"acct.{TEST}"]
    # Without a known location, a node without a relation keeps its plain key.
    assert KeyScope().keys(PROD_NODES[TEST]) == [TEST]


def test_entries_stamp_the_target_and_mirror_dbt_orchestras_fields() -> None:
    node = PROD_NODES[FCT]
    entries = PROD.entries(node, built(node, 1))
    assert entries[PROD.key(node)].target == "prod"
    assert entries[PROD.key(node)].fingerprint == "fp-fct"
    mirror = entries[FCT]
    assert mirror == mirror_of(entries[PROD.key(node)])
    item = json.loads(dump_state({FCT: mirror}))["state"][FCT]
    assert item == {
        "last_updated": "2026-11-22T07:01:00Z",
        "checksum": "sum",
        "sources": {SRC: "2026-11-22T07:00:00Z"},
        "relation": '"db"."analytics"."fct"',
        "target": "prod",
    }


def test_targets_keep_their_own_records_in_one_document() -> None:
    stored = merge_states(written(PROD, PROD_NODES, 1), written(DEV, DEV_NODES, 2), now=T0)
    stored = parse_state(dump_state(stored), "state")  # through the file format and back
    prod, dev = PROD.records_of(PROD_NODES, stored), DEV.records_of(DEV_NODES, stored)
    assert {uid: r.target for uid, r in prod.items()} == {FCT: "prod", TEST: "prod"}
    assert {uid: r.target for uid, r in dev.items()} == {FCT: "dev", TEST: "dev"}
    assert prod[FCT].fingerprint == "fp-fct" and prod[FCT].relation == PROD_NODES[FCT].relation
    # The plain key holds the newest build's mirror, which no target takes for its own.
    assert stored[FCT].target == "dev" and stored[FCT].fingerprint is None
    # Another target's records, wherever that target built.
    assert DEV.records_of_target(DEV_NODES, stored, "prod") == prod
    assert PROD.records_of_target(PROD_NODES, stored, "dev") == dev
    assert DEV.records_of_target(DEV_NODES, stored, "ci") == {}
    # A later build of prod into another schema: its newest record is the one found.
    moved = {FCT: Node(FCT, "model", "table", (SRC,), '"db"."moved"."fct"', "fp-fct")}
    later = merge_states(stored, written(PROD, moved, 3), now=T0)
    found = DEV.records_of_target(DEV_NODES, later, "prod")
    assert found[FCT].relation == '"db"."moved"."fct"' and found[TEST] == prod[TEST]


def test_a_legacy_record_of_the_same_relation_is_read_as_the_nodes_own() -> None:
    node = PROD_NODES[FCT]
    legacy = built(node, 1)  # written by an older orc: a plain key and no target
    assert PROD.records_of(PROD_NODES, {FCT: legacy}) == {FCT: legacy}
    # Not for a target that builds elsewhere, nor once a newer record is kept per target.
    assert DEV.records_of(DEV_NODES, {FCT: legacy}) == {}
    newer = PROD.entries(node, built(node, 2))
    assert PROD.records_of(PROD_NODES, {FCT: legacy, **newer})[FCT].target == "prod"
    older = PROD.entries(node, built(node, 0))
    assert PROD.records_of(PROD_NODES, {FCT: legacy, PROD.key(node): older[PROD.key(node)]}) == {
        FCT: legacy
    }
    # A legacy test record has no relation: it is the test's in the target that reads it.
    test_record = built(PROD_NODES[TEST], 1)
    assert PROD.records_of(PROD_NODES, {TEST: test_record}) == {TEST: test_record}


def test_own_keys_are_what_forget_drops() -> None:
    stored = merge_states(written(PROD, PROD_NODES, 1), written(DEV, DEV_NODES, 2), now=T0)
    # The plain key holds dev's mirror: prod forgets only its own record.
    assert PROD.own_keys(PROD_NODES[FCT], stored) == [PROD.key(PROD_NODES[FCT])]
    assert DEV.own_keys(DEV_NODES[FCT], stored) == [DEV.key(DEV_NODES[FCT]), FCT]
    assert PROD.own_keys(PROD_NODES[FCT], {FCT: built(PROD_NODES[FCT], 0)}) == [FCT]


def test_the_target_field_is_validated() -> None:
    item = {"last_updated": "2026-11-22T07:00:00Z", "target": "prod"}
    assert parse_item(item).target == "prod"
    assert parse_item({"last_updated": "2026-11-22T07:00:00Z"}).target is None
    with pytest.raises(ItemError, match='"target" must be a string or null, not a number'):
        parse_item({**item, "target": 3})
