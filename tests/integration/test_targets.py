"""Several dbt targets sharing one state: each keeps its own records, so alternating targets
rebuilds in each only what changed for it."""

from __future__ import annotations

import pytest

from tests.support.tutorial import (
    COMPARED,
    TABLES_READING_ORDERS,
    Project,
    built_relations,
    name,
)


def use_ci_without_deferral(project: Project) -> None:
    """The tutorial's `ci` output (the same DuckDB file, schema `ci`, production's raw
    data), with deferral off: each target builds its own tables."""
    project.env["ORCHESTRA_DEFER_TO_TARGET"] = "none"


def targets_by_node(project: Project) -> dict[str, set[str | None]]:
    from orchestra_dbt_py.core.document import parse_state

    found: dict[str, set[str | None]] = {}
    for key, record in parse_state(project.state_path.read_text(), "state").items():
        uid, at, _ = key.partition("@")
        if at:
            found.setdefault(uid, set()).add(record.target)
    return found


@pytest.mark.parametrize("target", ["duckdb"])
def test_targets_keep_their_records_and_rebuild_only_what_changed(built: Project) -> None:
    use_ci_without_deferral(built)
    built.orc("dbt", "build", "--target", "ci")
    first = built.plan_artifact()
    assert first["summary"]["reuse"] == 0  # nothing of ci's was built before
    recorded = {n["unique_id"] for n in first["nodes"] if n["resource_type"] != "unit_test"}

    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    for args in ((), ("--target", "ci")):
        built.orc("dbt", "build", *args)
        artifact = built.plan_artifact()
        assert built_relations(artifact) == TABLES_READING_ORDERS, args
        decisions = {name(n["unique_id"]): n["decision"] for n in artifact["nodes"]}
        assert decisions["stg_customers"] == decisions["not_null_stg_customers_customer_id"]
        assert decisions["stg_customers"] == "reuse", args
    # The state holds each target's records of every node.
    assert all(targets_by_node(built).get(uid) == {"duckdb", "ci"} for uid in recorded)
    # Both targets, built by turns from the same data, hold the same tables.
    for model in sorted(COMPARED):
        for a, b in ((f"main.{model}", f"ci.{model}"), (f"ci.{model}", f"main.{model}")):
            assert not built.query(f"select * from {a} except all select * from {b}"), (a, b)
