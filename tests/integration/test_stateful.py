"""Stateful `orc dbt build` on the tutorial: what is built, what is reused, what ends up in
the warehouse (compared with a plain full `dbt build` of the same project and data), and
that the project's files are never touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.tutorial import (
    TABLES_READING_ORDERS,
    Project,
    assert_matches_full_build,
    built_relations,
    name,
    postgres_available,
    ran,
    replaced_view_rebuilds,
)


def test_unchanged_second_run_executes_nothing(built: Project) -> None:
    files = built.project_files()
    manifest = built.dir / "target" / "manifest.json"
    manifest.unlink()
    built.orc("dbt", "build", "--no-write-json")
    assert not manifest.exists()  # dbt's --no-write-json is kept
    artifact = built.build()
    assert artifact["summary"]["build"] == 0, artifact
    assert ran(artifact) == set()
    # No dbt build ran, and dbt's manifest is written all the same, as `dbt build` writes it.
    written = json.loads(manifest.read_text())
    listed = {*written["nodes"], *written["unit_tests"]}
    assert {n["unique_id"] for n in artifact["nodes"]} <= listed
    assert built.project_files() == files
    assert_matches_full_build(built, artifact)


def test_new_rows_in_one_source_rebuild_only_what_reads_it(built: Project) -> None:
    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    files = built.project_files()
    artifact = built.build()
    expected = TABLES_READING_ORDERS | replaced_view_rebuilds(built, TABLES_READING_ORDERS)
    assert built_relations(artifact) == expected
    decisions = {name(n["unique_id"]): n for n in artifact["nodes"]}
    assert "source raw.orders has data from" in decisions["int_order_payments"]["reason"]
    assert decisions["stg_orders"]["decision"] == "reuse"  # a view: its data is current
    assert decisions["customer_revenue_daily"]["decision"] == "reuse"
    assert "build_after" in decisions["customer_revenue_daily"]["reason"]
    assert built.project_files() == files
    assert built.query(f"select count(*) from {built.schema}.orders_incremental")[0][0] == 20
    assert_matches_full_build(built, artifact)
    assert built.build()["summary"]["build"] == 0


def test_plan_predicts_the_build_and_changes_nothing(built: Project) -> None:
    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    state_before = built.state_path.read_bytes()
    counts = f"select count(*) from {built.schema}.fct_orders"
    rows_before = built.query(counts)
    planned = json.loads(built.orc("plan", "--output", "json").stdout)
    assert built.state_path.read_bytes() == state_before
    assert built.query(counts) == rows_before
    table = built.orc("plan").stdout
    assert "fct_orders" in table and "to build" in table
    assert set(planned) == {
        *("orc_version", "generated_at", "args", "defers_to", "nodes", "summary"),
        *("measurements", "claims", "phases"),
    }
    assert {key for node in planned["nodes"] for key in node} == {
        "unique_id",
        "resource_type",
        "decision",
        "reason",
        "status",
    }
    assert set(planned["summary"]) == {
        "selected",
        "build",
        "reuse",
        "clone",
        "unmeasured_sources",
        "unmeasured_inputs",
        "unreadable_sql",
        "estimated_seconds_saved",
    }
    built.build()  # checks that the build does what the plan said


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line)["info"] for line in output.splitlines() if line.strip()]


def invocation_ids(lines: list[dict[str, Any]], orc: bool) -> set[str]:
    return {line["invocation_id"] for line in lines if (line["name"] == "OrcMessage") == orc}


def test_json_logs_stay_json(built: Project) -> None:
    """dbt's global flags before the subcommand: every line is JSON, with the reasons."""
    lines = json_lines(built.orc("dbt", "--log-format", "json", "--debug", "build").stdout)
    messages = [line["msg"] for line in lines if line["name"] == "OrcMessage"]
    assert any(
        m.startswith("Reused ") and "wall-clock time avoided (estimate)" in m for m in messages
    ), messages
    assert any(m.startswith("  reuse  model.") for m in messages), messages
    # Nothing ran: orc's lines carry the id of the run_results.json orc wrote.
    assert invocation_ids(lines, orc=True) == {run_results_invocation_id(built)} != {""}


def run_results_invocation_id(project: Project) -> str:
    results = json.loads((project.dir / "target" / "run_results.json").read_text())
    return str(results["metadata"]["invocation_id"])


@pytest.mark.compat
def test_json_lines_of_a_run_carry_its_dbt_invocation_id(stateful: Project) -> None:
    lines = json_lines(stateful.orc("dbt", "build", "--log-format", "json").stdout)
    build_id = run_results_invocation_id(stateful)
    assert invocation_ids(lines, orc=True) == invocation_ids(lines, orc=False) == {build_id}
    assert build_id


def test_a_run_ends_with_where_its_plan_page_is(stateful: Project) -> None:
    ending = "orc: plan and reasons: {} (orc plan shows them as a table)"
    last = stateful.orc("dbt", "build").stdout.splitlines()[-1]
    assert last.endswith(ending.format("target/orc_plan.html")), last
    elsewhere = stateful.root / "elsewhere"
    last = stateful.orc("dbt", "build", "--target-path", str(elsewhere)).stdout.splitlines()[-1]
    assert last.endswith(ending.format(elsewhere / "orc_plan.html")), last
    assert (elsewhere / "orc_plan.html").is_file()


def test_quiet_silences_orc_as_it_silences_dbt(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_large_orders.sql"
    path.write_text(path.read_text().replace("select *", "select *, 1 as one"))
    quiet = built.orc("dbt", "-q", "build", ORCHESTRA_DBT_DEBUG="true")
    assert quiet.stdout == "", quiet.stdout
    assert built_relations(built.plan_artifact()) == {"fct_large_orders"}


def test_sql_edit_rebuilds_the_model_and_its_data_dependents(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_large_orders.sql"
    path.write_text(path.read_text().replace("select *", "select *, amount * 2 as doubled"))
    artifact = built.build()
    assert built_relations(artifact) == {"fct_large_orders"}
    assert built.query(f"select count(doubled) from {built.schema}.fct_large_orders")[0][0] > 0
    assert_matches_full_build(built, artifact)


def test_singular_test_spanning_a_built_and_a_reused_model_runs(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_orders.sql"
    path.write_text(path.read_text().replace("orders.amount", "orders.amount as amount"))
    artifact = built.build()
    assert "fct_orders" in built_relations(artifact)
    assert "int_order_payments" not in built_relations(artifact)
    assert "assert_order_totals_match" in ran(artifact)
    assert built.run_results()["test.jaffle_tutorial.assert_order_totals_match"] == "pass"


def test_config_change_only_in_yml(built: Project) -> None:
    path = built.dir / "models" / "marts" / "_marts.yml"
    text = path.read_text()
    marker = "  - name: fct_large_orders\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + "    config:\n      materialized: view\n"))
    artifact = built.build()
    assert built_relations(artifact) == {"fct_large_orders"}
    kind = built.query(
        "select table_type from information_schema.tables "
        f"where table_schema = '{built.schema}' and table_name = 'fct_large_orders'"
    )
    assert kind == [("VIEW",)]


def test_macro_body_change(built: Project) -> None:
    path = built.dir / "macros" / "cents_to_dollars.sql"
    path.write_text(path.read_text().replace("100.0", "100.00"))
    artifact = built.build()
    # stg_payments calls the macro; it is a view, so tables reading it are rebuilt too.
    rebuilt = built_relations(artifact)
    assert {"stg_payments", "int_order_payments", "fct_orders"} <= rebuilt
    assert "stg_orders" not in rebuilt and "stg_customers" not in rebuilt
    assert_matches_full_build(built, artifact)


def test_changed_var_rebuilds_only_its_readers(built: Project) -> None:
    vars_arg = "{large_order_threshold: 80}"
    artifact = built.build("--vars", vars_arg)
    assert built_relations(artifact) == {"fct_large_orders"}
    assert_matches_full_build(built, artifact, "--vars", vars_arg)
    assert built.build("--vars", vars_arg)["summary"]["build"] == 0


def test_comment_only_edit_builds_nothing(built: Project) -> None:
    path = built.dir / "models" / "marts" / "fct_orders.sql"
    path.write_text("-- a new comment\n" + path.read_text().replace("\n", "\n  \n", 3))
    artifact = built.build()
    assert artifact["summary"]["build"] == 0, artifact


def test_relation_dropped_by_hand_is_rebuilt(built: Project) -> None:
    built.execute(f"drop table {built.schema}.dim_customers cascade")
    artifact = built.build()
    rebuilt = built_relations(artifact)
    assert "dim_customers" in rebuilt
    assert "dim_customers" in built.relations()
    assert "fct_orders" not in rebuilt
    assert_matches_full_build(built, artifact)


@pytest.mark.parametrize("first_select", [(), ("--select", "dim_customers")])
def test_a_view_over_a_table_that_moves_reads_it_where_it_is_now(
    built: Project, first_select: tuple[str, ...]
) -> None:
    """A table moved to another alias: dbt creates it under the new name and leaves the old
    table, which the view over it, created with the old name, would read forever. With
    `--select`, the view is not in the run that moves the table, but in the next."""
    path = built.dir / "models" / "marts" / "_marts.yml"
    marker = "  - name: dim_customers\n"
    path.write_text(path.read_text().replace(marker, marker + "    config:\n      alias: dim_v2\n"))
    artifact = built.build(*first_select)
    if first_select:
        assert built_relations(artifact) == {"dim_customers"}
        artifact = built.build()
    decisions = {name(n["unique_id"]): n for n in artifact["nodes"]}
    assert decisions["rpt_top_customers"]["decision"] == "build"
    # On PostgreSQL, building dim_customers in the same run creates the view again anyway.
    reason = decisions["rpt_top_customers"]["reason"]
    assert '"dim_customers", which is' in reason or "dim_customers is built in" in reason
    # The old table is left as dbt leaves it; emptied, it shows who still reads it.
    built.execute(f"delete from {built.schema}.dim_customers")
    assert built.query(f"select count(*) from {built.schema}.rpt_top_customers")[0][0] == 5
    assert_matches_full_build(
        built, artifact, skip=frozenset({"dim_customers"}), also=frozenset({"dim_v2"})
    )
    assert built.build()["summary"]["build"] == 0


def test_state_never_crosses_targets(built: Project) -> None:
    other = f"{built.schema}_ref"
    artifact = built.build(TUTORIAL_SCHEMA=other, TUTORIAL_RAW_SCHEMA=f"{built.schema}_raw")
    assert artifact["summary"]["reuse"] == 0
    # Records are kept per relation: the other schema's nodes have none of their own (a
    # unit test has none either, and builds its model with it).
    reasons = [n["reason"] for n in artifact["nodes"] if n["resource_type"] == "model"]
    assert all("no build recorded" in r or "no run recorded" in r for r in reasons), reasons


def test_full_refresh_builds_everything_and_records(built: Project) -> None:
    artifact = built.build("--full-refresh")
    assert artifact["summary"]["reuse"] == 0
    assert built.build()["summary"]["build"] == 0


def test_empty_runs_are_never_reused(built: Project) -> None:
    artifact = built.build("--empty", "--select", "fct_orders+")
    assert "partial data" in " ".join(n["reason"] for n in artifact["nodes"])
    assert built.query(f"select count(*) from {built.schema}.fct_orders") == [(0,)]
    after = built.build()
    assert {"fct_orders", "dim_customers"} <= built_relations(after)
    assert "int_order_payments" not in built_relations(after)
    assert_matches_full_build(built, after)


def test_selection_is_respected(built: Project) -> None:
    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    # (The singular test would fail here, as in plain dbt: fct_orders is not rebuilt yet.)
    artifact = built.build(
        "--select", "int_order_payments", "--exclude", "assert_order_totals_match"
    )
    assert {name(n["unique_id"]) for n in artifact["nodes"] if n["resource_type"] == "model"} == {
        "int_order_payments"
    }
    assert built_relations(artifact) == {"int_order_payments"}
    # Nodes outside the selection were neither built nor touched in the state: the next
    # full run reuses what the selected run built and rebuilds what reads it.
    rest = built.build()
    rebuilt = built_relations(rest)
    assert "int_order_payments" not in rebuilt
    assert {"fct_orders", "orders_incremental"} <= rebuilt
    assert_matches_full_build(built, rest)


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(), reason="needs PGHOST/PGPORT (make test starts one)")
@pytest.mark.parametrize("target", ["postgres"])
def test_view_over_rebuilt_table_survives_on_postgres(built: Project) -> None:
    path = built.dir / "models" / "marts" / "dim_customers.sql"
    path.write_text(path.read_text().replace("customers.email,", "customers.email, 1 as v,"))
    artifact = built.build()
    assert {"dim_customers", "rpt_top_customers"} <= built_relations(artifact)
    assert "rpt_top_customers" in built.relations()
    assert_matches_full_build(built, artifact)


def test_the_first_run_creates_a_missing_state_file_and_its_folder(project: Project) -> None:
    project.env["ORCHESTRA_USE_STATEFUL"] = "true"
    folder = project.state_path.parent
    assert not folder.exists()
    project.orc("plan")
    assert not folder.exists(), "orc plan creates nothing"

    first = project.orc("dbt", "build")
    created = [line for line in first.stdout.splitlines() if "created the state file" in line]
    assert len(created) == 1 and f"its folder {folder}" in created[0], first.stdout
    assert project.build()["summary"]["build"] == 0


@pytest.mark.compat
def test_run_results_list_every_selected_node_reused_or_run(built: Project) -> None:
    from orchestra_dbt_py.dbt.run_results import reused_status

    path = built.dir / "target" / "run_results.json"
    path.unlink()
    artifact = built.build()  # nothing to do: dbt does not run
    selected = {n["unique_id"] for n in artifact["nodes"]}
    results = json.loads(path.read_text())
    listed = {r["unique_id"]: r for r in results["results"]}
    assert set(listed) == selected
    assert {r["status"] for r in listed.values()} == {reused_status()}
    assert all(r["message"].startswith("reused by orc: ") for r in listed.values())
    assert results["metadata"]["dbt_schema_version"].endswith("/run-results/v6.json")

    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    artifact = built.build()
    results = json.loads(path.read_text())["results"]
    ids = [r["unique_id"] for r in results]
    assert len(ids) == len(set(ids)) and set(ids) == set(listed)
    statuses = {r["unique_id"]: r["status"] for r in results}
    for node in artifact["nodes"]:
        if node["decision"] == "build":
            assert statuses[node["unique_id"]] == node["status"]
        else:
            assert statuses[node["unique_id"]] == reused_status()


def test_dbt_orchestra_settings_seeds_and_explicit_freshness(built: Project) -> None:
    """seed_state_orchestration = false builds seeds every run; with
    require_explicit_source_freshness, a source without loaded_at_* is never measured."""
    seeds = built.build(ORCHESTRA_SEED_STATE_ORCHESTRATION="false")
    assert "order_statuses" in built_relations(seeds)
    reasons = {name(n["unique_id"]): n["reason"] for n in seeds["nodes"]}
    assert "seed_state_orchestration" in reasons["order_statuses"]
    assert built.build()["summary"]["build"] == 0

    sources = built.dir / "models" / "staging" / "_sources.yml"
    sources.write_text(sources.read_text().replace("loaded_at_field: _loaded_at", ""))
    built.build()  # the sources' versions lost their loaded_at: their readers are rebuilt
    assert built.build()["summary"]["build"] == 0, "data versions measure the sources"
    explicit = built.build(ORCHESTRA_REQUIRE_EXPLICIT_SOURCE_FRESHNESS="true")
    assert built_relations(explicit) >= TABLES_READING_ORDERS
    debug = built.orc(
        "dbt", "build", ORCHESTRA_VERIFY_RELATIONS_EXIST="false", ORCHESTRA_DBT_DEBUG="true"
    )
    assert "verify_relations_exist is set: orc always checks" in debug.stdout
