"""Two targets sharing one state: a CI target that defers to production clones what
production holds current, builds what a pull request's edit reaches, and leaves
production's records alone."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.support.tutorial import Project, assert_matches_full_build, built_relations, name

# The tutorial's views: built in a new target, they cost nothing to build.
VIEWS = {"stg_customers", "stg_orders", "stg_payments", "rpt_top_customers"}
EDITED = "fct_orders"
READING_EDITED = {"fct_large_orders", "customer_revenue_daily", "dim_customers"}
SNAPSHOT = "customers_snapshot"


@pytest.mark.parametrize("target", ["duckdb"])
def test_ci_clones_what_production_has_current_and_builds_the_edit(built: Project) -> None:
    """Production (the `duckdb` output, schema main) is built; the tutorial's `ci` output
    on the same file defers to it (`defer_to_target`, dbt State's place) and reads the same
    raw data."""
    model = built.dir / "models" / "marts" / f"{EDITED}.sql"
    original = model.read_text()
    model.write_text(
        original.replace("orders.amount\nfrom", "orders.amount,\n    1 as edited\nfrom")
    )
    assert "1 as edited" in model.read_text()

    before = production_records(built)
    assert before
    artifact = built.build("--target", "ci")
    assert artifact["defers_to"] == "duckdb"
    decisions = {name(n["unique_id"]): n for n in artifact["nodes"]}
    cloned = {m for m, n in decisions.items() if n["decision"] == "clone"}
    # The snapshot's config reads target.schema: a definition of its own per target, built
    # on a copy of production's history (pre_clone if_missing: it is missing here).
    assert built_relations(artifact) == VIEWS | {EDITED} | READING_EDITED | {SNAPSHOT}
    assert "starts from a clone of" in decisions[SNAPSHOT]["reason"]
    assert cloned == {"int_order_payments", "orders_incremental", "order_statuses"}
    assert decisions["int_order_payments"]["clone_from"] == '"tutorial"."main"."int_order_payments"'
    assert "same definition, its data current" in decisions["order_statuses"]["reason"]
    assert "no clone: in duckdb, definition changed" in decisions[EDITED]["reason"]
    results = json.loads((built.dir / "target" / "run_results.json").read_text())["results"]
    messages = {name(r["unique_id"]): r["message"] for r in results}
    assert messages["order_statuses"].startswith('cloned by orc from "tutorial"."main"."order_')
    assert_matches_full_build(replace(built, schema="ci"), artifact, raw="main_raw")

    assert production_records(built) == before  # the CI run left production's records alone
    # Nothing changed since: the CI run reuses its own tables, clones included (their
    # records name the views this run built under them).
    again = built.build("--target", "ci")
    assert {n["decision"] for n in again["nodes"]} == {"reuse"}, [
        (n["unique_id"], n["reason"]) for n in again["nodes"] if n["decision"] != "reuse"
    ]

    # One model built alone in a new CI schema reads its unselected parent, missing there,
    # from production, as dbt's --defer would (--full-refresh: built, not cloned).
    alone = built.build(
        "--target", "ci", "--select", "fct_large_orders", "--full-refresh",
        TUTORIAL_CI_SCHEMA="ci_alone",
    )  # fmt: skip
    assert built_relations(alone) == {"fct_large_orders"}
    assert built.relations("ci_alone") == {"fct_large_orders"}
    for a, b in (("ci_alone", "main"), ("main", "ci_alone")):
        query = f"select * from {a}.fct_large_orders except all select * from {b}.fct_large_orders"
        assert not built.query(query), (a, b)


def production_records(project: Project) -> dict[str, object]:
    """The full records of the production target (`duckdb`), by key (the plain keys hold
    slim mirrors of the newest record of any target)."""
    state = json.loads(project.state_path.read_text())["state"]
    return {k: item for k, item in state.items() if "@" in k and item.get("target") == "duckdb"}
