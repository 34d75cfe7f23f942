"""The dbt package's hooks follow the core's rules.

The hooks record runs that `orc` does not wrap, in Jinja; `orc` reads those records with the
Python core. Three rules are written in both languages and must agree: which relations a
node's data depends on (`data_inputs` / `_data_inputs`), the state keys and rows of a node
(`KeyScope.key`, `keys`, `entries` / `_state_key`, `_state_keys`, `_state_entries`), and the
record a finished node leaves (`finished_record` / `_node_item`). This test runs both on the
same generated graphs, the Jinja through dbt's own template engine
(tests/support/macro_render.py).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from orchestra_dbt_py.core.document import parse_item_json
from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.graph import Node, data_inputs, named_relations
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord, format_timestamp
from orchestra_dbt_py.core.versions import source_version
from tests.support.macro_render import MacroRenderer

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

PROJECT = "spec"
MATERIALIZATIONS = ("table", "view", "ephemeral", "incremental")
T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def generated_graph(seed: int) -> tuple[dict[str, Node], dict[str, Any]]:
    """A random project: sources, models of every materialization reading earlier nodes,
    and data tests; as the core's nodes and as dbt's `graph` context variable."""
    rng = random.Random(seed)
    nodes: dict[str, Node] = {}
    graph: dict[str, Any] = {"nodes": {}, "sources": {}}
    for i in range(rng.randint(1, 4)):
        uid = f"source.{PROJECT}.raw.s{i}"
        relation = f'"db"."raw"."s{i}"'
        nodes[uid] = Node(uid, "source", relation=relation, name=f"s{i}")
        graph["sources"][uid] = {"unique_id": uid, "resource_type": "source", "name": f"s{i}"}
    for i in range(rng.randint(3, 14)):
        uid = f"model.{PROJECT}.m{i}"
        materialized = rng.choice(MATERIALIZATIONS)
        parents = tuple(rng.sample(sorted(nodes), rng.randint(1, min(3, len(nodes)))))
        relation = None if materialized == "ephemeral" else f'"db"."marts"."m{i}"'
        nodes[uid] = Node(uid, "model", materialized, parents, relation, f"fp-{i}", name=f"m{i}")
        graph["nodes"][uid] = _graph_node(uid, "model", materialized, parents, relation)
    models = [uid for uid in nodes if uid.startswith("model.")]
    for i in range(rng.randint(0, 4)):
        uid = f"test.{PROJECT}.t{i}"
        parents = tuple(rng.sample(models, rng.randint(1, min(2, len(models)))))
        nodes[uid] = Node(uid, "test", "test", parents, None, f"fp-t{i}", name=f"t{i}")
        graph["nodes"][uid] = _graph_node(uid, "test", "test", parents, None)
    return nodes, graph


def _graph_node(
    uid: str, resource_type: str, materialized: str, parents: tuple[str, ...], relation: str | None
) -> dict[str, Any]:
    return {
        "unique_id": uid,
        "resource_type": resource_type,
        "package_name": PROJECT,
        "name": uid.rsplit(".", 1)[-1],
        "relation_name": relation,
        "checksum": {"name": "sha256", "checksum": f"sum-{uid}"},
        "config": {"materialized": materialized},
        "depends_on": {"nodes": list(parents), "macros": []},
    }


SEEDS = range(25)


@pytest.mark.parametrize("seed", SEEDS)
def test_data_inputs_agree(seed: int) -> None:
    nodes, graph = generated_graph(seed)
    renderer = MacroRenderer("postgres", graph=graph)
    for uid in graph["nodes"]:
        python = data_inputs(nodes, uid)
        jinja = renderer.call("_data_inputs", uid)
        assert sorted(jinja) == sorted(python), uid
        assert len(jinja) == len(set(jinja)), uid


@pytest.mark.parametrize("account", [None, "acct"])
@pytest.mark.parametrize("seed", SEEDS[:5])
def test_state_keys_agree(seed: int, account: str | None) -> None:
    nodes, graph = generated_graph(seed)
    renderer = MacroRenderer("postgres", graph=graph)
    location = renderer.call("_state_location")
    assert location == '"analytics"."dbt_dev"'  # the target's database and schema, quoted
    scope = KeyScope(account, "dev", location)
    record = NodeRecord(
        last_updated=T0,
        checksum="c",
        sources={"source.spec.raw.s0": T0},
        hook_fingerprint="hook1:f",
    )
    item = {
        "last_updated": format_timestamp(T0),
        "checksum": "c",
        "sources": {"source.spec.raw.s0": format_timestamp(T0)},
        "fingerprint": "hook1:f",
    }
    for uid, node in graph["nodes"].items():
        assert renderer.call("_state_key", node, account) == scope.key(nodes[uid]), uid
        assert renderer.call("_state_keys", node, account) == scope.keys(nodes[uid]), uid
        python = scope.entries(nodes[uid], replace(record, relation=nodes[uid].relation))
        rows = renderer.call(
            "_state_entries", node, account, {**item, "relation": node["relation_name"]}
        )
        assert [row[0] for row in rows] == list(python), uid
        for key, _, last_updated, text in rows:
            assert last_updated == item["last_updated"]
            assert parse_item_json(key, text, "the hook's item") == python[key], (uid, key)


def test_keys_without_a_database() -> None:
    """dbt-spark has no database: the default location is the schema alone."""
    renderer = MacroRenderer("spark")
    assert renderer.call("_state_location") == "dbt_dev"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_record_of_a_finished_node_agrees(seed: int) -> None:
    """Given the same run (what finished, what was observed, which builds it read), the
    hooks' item parses into the record the core writes, but for who fingerprinted it."""
    nodes, graph = generated_graph(seed)
    rng = random.Random(seed)
    renderer = MacroRenderer("postgres", graph=graph)
    observed = {
        uid: source_version(
            rng.choice([None, T0 - timedelta(hours=rng.randint(1, 9))]),
            rng.choice([{}, {"rows": str(rng.randint(0, 99)), "digest": "d" * 40}]),
        )
        for uid in graph["sources"]
    }
    known = {
        uid: NodeRecord(last_updated=T0 + timedelta(minutes=rng.randint(1, 60)))
        for uid in graph["nodes"]
        if rng.random() < 0.7
    }
    for uid, node in graph["nodes"].items():
        if nodes[uid].materialized == "ephemeral":
            continue
        status = "pass" if node["resource_type"] == "test" else "success"
        now = T0 + timedelta(hours=2)
        python = finished_record(
            nodes,
            uid,
            status,
            1.5,
            known=known,
            versions=observed,
            checksum=node["checksum"]["checksum"],
            now=now,
        )
        assert python is not None
        item = renderer.call(
            "_node_item",
            node,
            {"status": status, "last_updated": format_timestamp(now), "execution_time": 1.5},
            renderer.call("_data_inputs", uid),
            observed,
            {k: format_timestamp(r.last_updated) for k, r in known.items()},
            "hook1:abc",
        )
        jinja = parse_item_json(uid, json.dumps(item), "the hook's item")
        assert (
            jinja.hook_fingerprint == "hook1:abc" and python.fingerprint == nodes[uid].fingerprint
        )
        extra = dict(jinja.extra)
        assert extra.pop("recorded_by") == "orchestra_dbt.record_run"
        assert extra == {}
        fields = (
            "last_updated",
            "checksum",
            "sources",
            "data_versions",
            "upstream",
            "relation",
            "parent_relations",
        )
        for field in (*fields, "status"):
            assert getattr(jinja, field) == getattr(python, field), (uid, field)
        assert jinja.execution_time == python.execution_time


@dataclass(frozen=True)
class Result:
    """The parts of dbt's RunResult that `_run_outcomes` reads (no timing: the time is now)."""

    node: Any
    status: str
    execution_time: float = 0.5
    timing: tuple[()] = ()


# Every status dbt gives a model (or seed, snapshot) and a data test.
BUILD_STATUSES = ("success", "error", "skipped", "partial success")
TEST_STATUSES = ("pass", "warn", "fail", "error", "skipped")


@pytest.mark.parametrize("seed", SEEDS[:5])
def test_the_record_of_a_build_that_did_not_succeed_agrees(seed: int) -> None:
    """Which outcomes leave a full record and which only their outcome, and that outcome's
    item, are the same in the hooks and the core."""
    nodes, graph = generated_graph(seed)
    renderer = MacroRenderer("postgres", graph=graph)
    now = T0 + timedelta(hours=2)
    for uid, node in graph["nodes"].items():
        if nodes[uid].materialized == "ephemeral":
            continue
        statuses = TEST_STATUSES if node["resource_type"] == "test" else BUILD_STATUSES
        for status in statuses:
            python = finished_record(
                nodes, uid, status, 0.5, known={}, versions={}, checksum="sum", now=now
            )
            assert python is not None
            outcome = renderer.call(
                "_run_outcomes",
                [Result(SimpleNamespace(unique_id=uid), status)],
                format_timestamp(now),
            )
            assert outcome["removed"] == []
            if python.fingerprint is not None:
                assert list(outcome["finished"]) == [uid] and outcome["failed"] == {}
                continue
            assert outcome["finished"] == {} and list(outcome["failed"]) == [uid], status
            row, mirror = renderer.call("_failed_records", outcome["failed"])
            key = KeyScope(None, "dev", renderer.call("_state_location")).key(nodes[uid])
            assert row[:3] == [key, "node", format_timestamp(now)] and mirror[0] == uid
            jinja = parse_item_json(uid, row[3], "the hook's item")
            assert jinja.extra == {"recorded_by": "orchestra_dbt.record_run"}
            assert replace(jinja, extra={}) == replace(python, target="dev"), (uid, status)


def test_the_spec_can_fail() -> None:
    """A rule that drifts is caught: a view no longer looked through changes the inputs."""
    nodes, graph = generated_graph(3)
    views = [uid for uid, n in nodes.items() if n.materialized == "view" and n.parents]
    readers = [uid for uid, n in nodes.items() if set(n.parents) & set(views)]
    assert readers, "the seed must hold a model reading a view"
    drifted = {uid: n for uid, n in nodes.items()}
    for uid in views:
        drifted[uid] = Node(uid, "model", "table", nodes[uid].parents, nodes[uid].relation)
    renderer = MacroRenderer("postgres", graph=graph)
    assert any(
        sorted(renderer.call("_data_inputs", uid)) != sorted(data_inputs(drifted, uid))
        for uid in readers
    )


def test_a_view_over_a_deferred_parent_names_nothing() -> None:
    """Under dbt's `--defer` the hooks cannot tell which relation a view named: they leave
    `parent_relations` out, and orc creates the view again."""
    nodes, graph = generated_graph(0)
    view = "model.spec.m2"  # a view over models, in this graph
    renderer = MacroRenderer("postgres", graph=graph)
    named = renderer.call("_named_relations", graph["nodes"][view])
    assert named and named == named_relations(nodes, view, {})
    done = {"status": "success", "last_updated": format_timestamp(T0), "execution_time": 1.0}
    item = renderer.call("_node_item", graph["nodes"][view], done, [], {}, {}, "hook1:abc")
    assert item["parent_relations"] == named
    for node in graph["nodes"].values():
        node["defer_relation"] = {"alias": "elsewhere"}
    deferred = MacroRenderer("postgres", graph=graph)
    assert deferred.call("_named_relations", graph["nodes"][view]) is None
    item = deferred.call("_node_item", graph["nodes"][view], done, [], {}, {}, "hook1:abc")
    assert "parent_relations" not in item
