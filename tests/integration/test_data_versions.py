"""Data versions on real warehouses: changes a `loaded_at` maximum cannot see (updated,
late and deleted rows, sources without any `loaded_at`, tables changed outside orc) rebuild
exactly what reads them, and the warehouse then equals a plain full build."""

from __future__ import annotations

import json

import pytest

from tests.support.tutorial import (
    TABLES_READING_ORDERS,
    TARGETS,
    Project,
    assert_matches_full_build,
    built_relations,
    name,
    ran,
    replaced_view_rebuilds,
)

# An incremental model only picks up rows with a newer `_loaded_at`: after an update, a late
# row or a delete it rightly differs from a full build, as it would under plain dbt.
INCREMENTAL = frozenset({"orders_incremental"})
ONLY_POSTGRES = pytest.mark.parametrize("target", TARGETS[1:], indirect=True)
ONLY_DUCKDB = pytest.mark.parametrize("target", TARGETS[:1], indirect=True)


def raw(project: Project, table: str) -> str:
    schema = "main_raw" if project.target == "duckdb" else f"{project.schema}_raw"
    return f"{schema}.{table}"


def reasons(artifact: dict[str, object]) -> dict[str, str]:
    return {name(n["unique_id"]): n["reason"] for n in artifact["nodes"]}  # type: ignore[index, union-attr]


def assert_readers_of_orders_rebuilt(
    project: Project,
    signal: str,
    also: frozenset[str] = frozenset(),
    reason_of: str = "int_order_payments",
) -> None:
    artifact = project.build()
    expected = TABLES_READING_ORDERS | replaced_view_rebuilds(project, TABLES_READING_ORDERS)
    expected |= also
    assert built_relations(artifact) == expected
    assert signal in reasons(artifact)[reason_of]
    assert_matches_full_build(project, artifact, skip=INCREMENTAL)
    assert ran(project.build()) == set()


def test_updated_rows_without_a_newer_loaded_at_rebuild_their_readers(built: Project) -> None:
    built.execute(f"update {raw(built, 'orders')} set status = 'shipped' where id in (1, 2, 3)")
    assert_readers_of_orders_rebuilt(built, "source raw.orders changed since this was built")


def test_late_rows_with_an_older_loaded_at_rebuild_their_readers(built: Project) -> None:
    built.execute(
        f"insert into {raw(built, 'orders')} (id, customer_id, order_date, status, _loaded_at) "
        "values (99, 2, '2024-01-20', 'placed', cast('2000-01-01 00:00:00' as timestamp))"
    )
    assert_readers_of_orders_rebuilt(built, "source raw.orders changed since this was built")


def test_deleted_rows_rebuild_their_readers(built: Project) -> None:
    built.execute(f"delete from {raw(built, 'orders')} where id = 14")  # no payments
    assert_readers_of_orders_rebuilt(built, "source raw.orders changed since this was built")


def test_a_source_without_loaded_at_is_reused_untouched_and_rebuilt_when_changed(
    stateful: Project,
) -> None:
    sources = stateful.dir / "models" / "staging" / "_sources.yml"
    sources.write_text(sources.read_text().replace("    loaded_at_field: _loaded_at\n", ""))
    first = stateful.build()
    assert first["summary"]["unmeasured_sources"] == []
    second = stateful.build()
    assert ran(second) == set(), reasons(second)
    stateful.execute(f"update {raw(stateful, 'payments')} set amount = amount + 1 where id = 1")
    third = stateful.build()
    assert "int_order_payments" in built_relations(third)
    assert (
        "source raw.payments changed since this was built" in (reasons(third)["int_order_payments"])
    )
    assert "stg_orders" not in ran(third)
    assert_matches_full_build(stateful, third)


def test_unmeasured_sources_are_named_on_every_run_from_the_first_even_quiet(
    stateful: Project,
) -> None:
    sources = stateful.dir / "models" / "staging" / "_sources.yml"
    sources.write_text(sources.read_text().replace("    loaded_at_field: _loaded_at\n", ""))
    unmeasured = {"ORCHESTRA_REQUIRE_EXPLICIT_SOURCE_FRESHNESS": "true"}
    names = [f"source.jaffle_tutorial.raw.{t}" for t in ("customers", "orders", "payments")]
    planned = json.loads(stateful.orc("plan", "--output", "json", **unmeasured).stdout)
    assert planned["summary"]["unmeasured_sources"] == names
    for run in ("first", "second"):
        result = stateful.orc("dbt", "build", "--quiet", **unmeasured)
        said = [line for line in result.stdout.splitlines() if "orc: " in line]
        assert len(said) == 1, (run, result.stdout)
        assert said[0].endswith(
            "orc: 3 sources have no measurable data version and count as changed on every "
            "run: raw.customers, raw.orders, raw.payments. The warehouse reports no change "
            "signal orc can read for them (for a view: for what it reads). A loaded_at_field "
            "or loaded_at_query would let orc reuse them, but then only a moved maximum "
            "counts as a change: rows updated or deleted without a newer one would be missed."
        ), run
        assert stateful.plan_artifact()["summary"]["unmeasured_sources"] == names, run


def test_a_table_rebuilt_outside_orc_then_reverted_in_the_project_is_rebuilt(
    built: Project,
) -> None:
    model = built.dir / "models" / "marts" / "fct_orders.sql"
    original = model.read_text()
    model.write_text(f"select * from ({original.rstrip().rstrip(';')}) as o where o.order_id < 5")
    built.orc("dbt", "run", "--select", "fct_orders", ORCHESTRA_USE_STATEFUL="false")
    model.write_text(original)
    artifact = built.build()
    assert "fct_orders" in built_relations(artifact)
    assert "its table changed outside orc" in reasons(artifact)["fct_orders"]
    assert_matches_full_build(built, artifact)


@ONLY_POSTGRES
def test_a_dropped_and_recreated_source_counts_as_changed(built: Project) -> None:
    orders = raw(built, "orders")
    built.execute(
        f"create table {orders}_copy as select * from {orders}; drop table {orders} cascade; "
        f"alter table {orders}_copy rename to orders"
    )
    # `drop ... cascade` also dropped the view on the source, which is rebuilt as missing;
    # the source's own tests see the new table's oid.
    assert_readers_of_orders_rebuilt(
        built,
        "source raw.orders changed since this was built: oid",
        also=frozenset({"stg_orders"}),
        reason_of="source_unique_raw_orders_id",
    )


@ONLY_POSTGRES
def test_a_statistics_reset_hides_no_update(built: Project) -> None:
    """PostgreSQL's data version reads the rows, not the statistics collector: a reset of the
    statistics neither hides a change nor invents one."""
    built.execute("select pg_stat_reset()")
    assert ran(built.build()) == set()
    built.execute(f"update {raw(built, 'orders')} set status = 'placed' where id = 7")
    built.execute("select pg_stat_reset()")
    assert_readers_of_orders_rebuilt(built, "source raw.orders changed since this was built")


def measured(artifact: dict) -> dict[str, int]:
    """What a run measured in the warehouse and what it read back as kept, by step."""
    return {m["step"]: m["relations"] for m in artifact["measurements"]}


@ONLY_DUCKDB
def test_an_unchanged_duckdb_file_is_not_read_again_and_a_change_still_shows(
    built: Project,
) -> None:
    """While the database file is as it was, the tables' versions and freshness measured
    since are kept (kept_versions.py). A build measures them for the next run once the file
    holds it, so the unchanged run right after it reads no more than one after an
    unchanged run. An update that keeps every size, made right after a build (within the
    settling time), still rebuilds."""
    built.execute(f"update {raw(built, 'orders')} set status = 'placed' where id = 7")
    rebuilt = built.build()
    assert built_relations(rebuilt) >= TABLES_READING_ORDERS
    assert "next_run_measurements" in {p["phase"] for p in rebuilt["phases"]}
    after_build = built.build()
    assert ran(after_build) == set()
    steps = measured(after_build)
    assert steps.get("data_versions_kept", 0) > 0 and steps.get("freshness_kept", 0) > 0
    assert measured(built.build()) == steps
    built.execute(f"update {raw(built, 'orders')} set status = 'shipped' where id = 7")
    assert_readers_of_orders_rebuilt(built, "source raw.orders changed since this was built")


def test_nothing_changed_measures_but_executes_nothing(built: Project) -> None:
    artifact = built.build()
    assert ran(artifact) == set()
    assert all(n["decision"] == "reuse" for n in artifact["nodes"])


def test_sources_that_are_views_follow_the_tables_under_them(built: Project) -> None:
    """raw.orders becomes a view over a view in another schema, raw.payments a view over a
    table (without a loaded_at): after the one run that notices, nothing is rebuilt; an
    update under raw.orders, its loaded_at unchanged, rebuilds its readers."""
    sources = built.dir / "models" / "staging" / "_sources.yml"
    sources.write_text(
        sources.read_text()
        .replace("    loaded_at_field: _loaded_at\n", "")
        .replace(
            "      - name: orders\n", "      - name: orders\n        loaded_at_field: _loaded_at\n"
        )
    )
    cascade = " cascade" if built.target == "postgres" else ""
    orders, payments = raw(built, "orders"), raw(built, "payments")
    built.execute(
        f"create schema land; create table land.orders as select * from {orders}; "
        "create view land.orders_current as select * from land.orders; "
        f"create table land.payments as select * from {payments}; "
        f"drop table {orders}{cascade}; drop table {payments}{cascade}; "
        f"create view {orders} as select * from land.orders_current; "
        f"create view {payments} as select * from land.payments"
    )
    noticed = built.build()
    assert built_relations(noticed) >= TABLES_READING_ORDERS
    assert ran(built.build()) == set()

    built.execute("update land.orders set status = 'shipped' where id in (1, 2, 3)")
    moved = "land.orders.xmin_digest moved" if built.target == "postgres" else "digest moved"
    assert_readers_of_orders_rebuilt(
        built, f"source raw.orders changed since this was built: {moved}"
    )
