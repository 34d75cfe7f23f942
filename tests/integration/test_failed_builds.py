"""A model whose build fails is recorded as failed (and what dbt skipped after it, as
skipped): once its SQL is fixed, the next run rebuilds them and says why, and the warehouse
then equals a plain full build."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.tutorial import Project, assert_matches_full_build, built_relations, name

FAILING_SQL = "cast('not a number' as integer) as amount\nfrom orders"


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_failed_build_is_rebuilt_next_run_and_says_so(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_orders.sql"
    original = path.read_text()
    assert "orders.amount\nfrom orders" in original
    path.write_text(original.replace("orders.amount\nfrom orders", FAILING_SQL))

    built.orc("dbt", "build", expect=1)  # fails at run time, in the warehouse
    statuses = {name(n["unique_id"]): n["status"] for n in built.plan_artifact()["nodes"]}
    assert statuses["fct_orders"] == "error" and statuses["dim_customers"] == "skipped"
    shown = built.orc("state", "show").stdout
    assert re.search(r"model\.jaffle_tutorial\.fct_orders\S* +failed ", shown), shown

    path.write_text(original)
    planned = json.loads(built.orc("plan", "--output", "json").stdout)
    artifact = built.build()
    reasons = {name(n["unique_id"]): n["reason"] for n in artifact["nodes"]}
    # orc plan, its JSON, the HTML page and --debug all print the one Decision.reason.
    assert planned["nodes"] == [{**n, "status": None} for n in artifact["nodes"]]
    # The README says they have one shape: the same keys, measurements included.
    assert set(planned) == set(artifact) and "measurements" in planned
    assert set(planned["summary"]) == set(artifact["summary"])
    assert planned["measurements"] and artifact["measurements"]
    assert {k for m in planned["measurements"] for k in m} == {"step", "relations", "seconds"}
    assert {k for m in artifact["measurements"] for k in m} == {"step", "relations", "seconds"}
    # Where the time went: the plan's phases, then the build's own.
    planning = {
        *("parse", "state_open", "selection", "fingerprints", "state_read"),
        *("hook_fingerprints", "freshness", "existing_relations", "sql_inputs", "data_versions"),
        "planning",
    }
    assert {p["phase"] for p in planned["phases"]} == {*planning, "claims"}
    assert {p["phase"] for p in artifact["phases"]} >= {
        *planning,
        *("dbt_build", "state_write", "artifacts"),
    }
    assert all(p["seconds"] >= 0 and p["runs"] >= 1 for p in artifact["phases"])
    assert reasons["fct_orders"].startswith("its last build failed (status error at 20")
    assert reasons["dim_customers"].startswith("its last build was skipped at 20")
    assert {"fct_orders", "dim_customers", "fct_large_orders"} <= built_relations(artifact)
    assert_matches_full_build(built, artifact)
    assert built.build()["summary"]["build"] == 0


@pytest.mark.parametrize("target", ["duckdb"])
def test_retry_reruns_what_failed_and_what_it_skipped_and_records_it(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_orders.sql"
    original = path.read_text()
    path.write_text(original.replace("orders.amount\nfrom orders", FAILING_SQL))
    built.orc("dbt", "build", expect=1)
    failed = built.plan_artifact()["nodes"]
    # What plain `dbt retry` runs after a plain build of the nodes orc built.
    expected = {n["unique_id"] for n in failed if n["status"] in {"error", "fail", "skipped"}}
    assert {name(uid) for uid in expected} >= {"fct_orders", "dim_customers"}
    assert any(n["decision"] == "reuse" for n in failed)

    path.write_text(original)
    built.orc("dbt", "retry")
    assert set(built.run_results()) == expected
    assert set(built.run_results().values()) <= {"success", "pass"}
    assert built.build()["summary"]["build"] == 0
    # Nothing left to retry: dbt's exit code, nothing run.
    built.orc("dbt", "retry")
    assert built.run_results() == {}
