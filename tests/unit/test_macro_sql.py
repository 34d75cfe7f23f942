"""The SQL that orchestra_dbt.source_freshness renders, per adapter.

Snowflake, BigQuery and Databricks cannot run here, so the real macro files are
rendered with dbt's Jinja environment against a fake context (see
tests/support/macro_render.py): the captured SQL is checked, and so is the value
handed back to the caller. DuckDB's `external_location` parsing is tested the
same way; its queries run for real in tests/integration/test_package_macros.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.macro_render import (
    MacroRenderer,
    backtick_relation,
    duckdb_relation,
    package_macros,
    postgres_relation,
    single_value,
    snowflake_relation,
    squash,
    table,
)

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

LOADED_AT = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)

# Every adapter variant, plus one without a variant of its own (-> default__).
ALL_ADAPTERS = ["snowflake", "bigquery", "databricks", "postgres", "duckdb", "redshift"]


def relation_for(adapter_type: str) -> Any:
    if adapter_type == "snowflake":
        return snowflake_relation("analytics", "raw", "orders")
    if adapter_type in {"bigquery", "databricks"}:
        return backtick_relation("proj", "raw", "orders")
    if adapter_type == "duckdb":
        return duckdb_relation("orders")
    return postgres_relation("analytics", "raw", "orders")


# --- the public macro --------------------------------------------------------


def test_public_macro_only_dispatches() -> None:
    (public,) = [macro for macro in package_macros() if macro.name == "source_freshness"]
    assert squash(public.sql) == (
        "{% macro source_freshness(relation, loaded_at_field=none, loaded_at_query=none, "
        "filter=none, external_location=none) -%} "
        "{{ return(adapter.dispatch('source_freshness', 'orchestra_dbt')(relation, "
        "loaded_at_field, loaded_at_query, filter, external_location)) }} "
        "{%- endmacro %}"
    )


def test_every_variant_is_dispatchable() -> None:
    names = {macro.name for macro in package_macros()}
    assert "default__source_freshness" in names
    assert not {n for n in names if n.endswith("__source_freshness")} - {
        "default__source_freshness"
    }, "adapter differences belong in metadata_freshness, not in copies of source_freshness"
    for prefix in ("default", "duckdb", "databricks", "snowflake", "bigquery"):
        assert f"{prefix}__metadata_freshness" in names


# --- Databricks: DESCRIBE HISTORY ----------------------------------------------


def test_databricks_describes_history() -> None:
    history = table(
        ["version", "timestamp", "userId", "operation"],
        [12, LOADED_AT, "u1", "WRITE"],
    )
    renderer = MacroRenderer("databricks", [history])

    value = renderer.source_freshness(backtick_relation("main", "raw", "orders"))

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "describe history `main`.`raw`.`orders` limit 1"
    ]


def test_databricks_without_history_rows_is_none() -> None:
    renderer = MacroRenderer("databricks", [table(["version", "timestamp"])])
    assert renderer.source_freshness(backtick_relation("main", "raw", "orders")) is None
    assert len(renderer.queries) == 1


def test_databricks_reads_the_timestamp_column_by_name() -> None:
    history = table(["TIMESTAMP", "version"], [LOADED_AT, 3])
    renderer = MacroRenderer("databricks", [history])
    assert renderer.source_freshness(backtick_relation("main", "raw", "orders")) == LOADED_AT


# --- Snowflake: information_schema.tables.last_altered --------------------------


def test_snowflake_reads_last_altered_for_unquoted_names() -> None:
    renderer = MacroRenderer("snowflake", [single_value(LOADED_AT, "LAST_ALTERED")])

    value = renderer.source_freshness(snowflake_relation("analytics", "raw", "orders"))

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "select max(last_altered) as last_altered "
        "from analytics.INFORMATION_SCHEMA.tables "
        "where table_schema = 'RAW' and table_name = 'ORDERS'"
    ]


def test_snowflake_keeps_quoted_names_as_written() -> None:
    renderer = MacroRenderer("snowflake", [single_value(LOADED_AT)])

    renderer.source_freshness(snowflake_relation("Analytics", "Raw", "Orders", quoted=True))

    assert [squash(sql) for sql in renderer.queries] == [
        "select max(last_altered) as last_altered "
        'from "Analytics".INFORMATION_SCHEMA.tables '
        "where table_schema = 'Raw' and table_name = 'Orders'"
    ]


def test_snowflake_escapes_names_in_literals() -> None:
    renderer = MacroRenderer("snowflake", [single_value(LOADED_AT)])
    renderer.source_freshness(snowflake_relation("analytics", "raw", "o'rders", quoted=True))
    assert "table_name = 'o''rders'" in squash(renderer.queries[0])


def test_snowflake_unknown_table_is_none() -> None:
    renderer = MacroRenderer("snowflake", [single_value(None)])
    assert renderer.source_freshness(snowflake_relation("analytics", "raw", "gone")) is None


# --- BigQuery: __TABLES__.last_modified_time -----------------------------------


def test_bigquery_reads_tables_meta_table() -> None:
    renderer = MacroRenderer("bigquery", [single_value(LOADED_AT)])

    value = renderer.source_freshness(backtick_relation("my-project", "raw", "orders"))

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "select timestamp_millis(max(last_modified_time)) as last_modified "
        "from `my-project`.`raw`.`__TABLES__` "
        "where table_id = 'orders'"
    ]


def test_bigquery_unknown_table_is_none() -> None:
    renderer = MacroRenderer("bigquery", [single_value(None)])
    assert renderer.source_freshness(backtick_relation("p", "raw", "gone")) is None


# --- loaded_at_field / loaded_at_query: dbt's own collect_freshness* ------------


@pytest.mark.parametrize("adapter_type", ALL_ADAPTERS)
def test_loaded_at_field_goes_through_collect_freshness(adapter_type: str) -> None:
    relation = relation_for(adapter_type)
    renderer = MacroRenderer(
        adapter_type, [table(["max_loaded_at", "snapshotted_at"], [LOADED_AT, None])]
    )

    value = renderer.source_freshness(
        relation, loaded_at_field="_loaded_at", filter="region = 'eu'"
    )

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "select max(_loaded_at) as max_loaded_at, current_timestamp() as snapshotted_at "
        f"from {relation} where region = 'eu'"
    ]


@pytest.mark.parametrize("adapter_type", ALL_ADAPTERS)
def test_loaded_at_field_without_filter(adapter_type: str) -> None:
    relation = relation_for(adapter_type)
    renderer = MacroRenderer(adapter_type, [single_value(LOADED_AT)])
    assert renderer.source_freshness(relation, loaded_at_field="_loaded_at") == LOADED_AT
    assert "where" not in squash(renderer.queries[0])


@pytest.mark.parametrize("adapter_type", ALL_ADAPTERS)
def test_loaded_at_query_goes_through_collect_freshness_custom_sql(adapter_type: str) -> None:
    relation = relation_for(adapter_type)
    renderer = MacroRenderer(adapter_type, [single_value(LOADED_AT)])

    value = renderer.source_freshness(
        relation,
        loaded_at_field="ignored_when_a_query_is_given",
        loaded_at_query="select max(loaded) from audit.loads",
    )

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "with source_query as ( select max(loaded) from audit.loads ) "
        "select (select * from source_query) as max_loaded_at, "
        "current_timestamp() as snapshotted_at"
    ]


@pytest.mark.parametrize("adapter_type", ALL_ADAPTERS)
def test_empty_table_is_none(adapter_type: str) -> None:
    renderer = MacroRenderer(
        adapter_type, [table(["max_loaded_at", "snapshotted_at"], [None, LOADED_AT])]
    )
    assert (
        renderer.source_freshness(relation_for(adapter_type), loaded_at_field="_loaded_at") is None
    )


def test_string_result_is_passed_through() -> None:
    renderer = MacroRenderer("postgres", [single_value("2024-05-06T07:08:09+00:00")])
    value = renderer.source_freshness(relation_for("postgres"), loaded_at_field="loaded_at")
    assert value == "2024-05-06T07:08:09+00:00"


# --- nothing to measure, or nothing may run -------------------------------------


@pytest.mark.parametrize("adapter_type", ["postgres", "redshift", "duckdb"])
def test_nothing_configured_without_metadata_is_none(adapter_type: str) -> None:
    renderer = MacroRenderer(adapter_type)
    assert renderer.source_freshness(relation_for(adapter_type)) is None
    assert renderer.queries == []


@pytest.mark.parametrize("adapter_type", ALL_ADAPTERS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"loaded_at_field": "_loaded_at"},
        {"loaded_at_query": "select 1"},
        {"external_location": "data/*.csv"},
    ],
)
def test_nothing_runs_at_parse_time(adapter_type: str, kwargs: dict[str, Any]) -> None:
    renderer = MacroRenderer(adapter_type, execute=False)
    assert renderer.source_freshness(relation_for(adapter_type), **kwargs) is None
    assert renderer.queries == []


# --- DuckDB: file modification times of external_location -----------------------


def test_duckdb_external_location_reads_file_times() -> None:
    renderer = MacroRenderer("duckdb", [single_value(3), single_value(LOADED_AT)])

    value = renderer.source_freshness(
        duckdb_relation("orders"), external_location="read_parquet('data/orders/*.parquet')"
    )

    assert value == LOADED_AT
    assert [squash(sql) for sql in renderer.queries] == [
        "select count(*) as file_count from glob('data/orders/*.parquet')",
        "select max(last_modified) as last_modified from read_blob('data/orders/*.parquet')",
    ]


def test_duckdb_no_matching_file_is_none() -> None:
    renderer = MacroRenderer("duckdb", [single_value(0)])
    assert renderer.source_freshness(duckdb_relation("orders"), external_location="x/*.csv") is None
    assert len(renderer.queries) == 1


def test_duckdb_escapes_the_path_literal() -> None:
    renderer = MacroRenderer("duckdb", [single_value(1), single_value(LOADED_AT)])
    renderer.source_freshness(
        duckdb_relation("orders"), external_location="read_csv('data/it''s here/*.csv')"
    )
    assert [squash(sql) for sql in renderer.queries] == [
        "select count(*) as file_count from glob('data/it''s here/*.csv')",
        "select max(last_modified) as last_modified from read_blob('data/it''s here/*.csv')",
    ]


def test_duckdb_uses_the_relation_location_when_none_is_passed() -> None:
    renderer = MacroRenderer("duckdb", [single_value(1), single_value(LOADED_AT)])
    relation = duckdb_relation("orders", external="'data/orders.csv'")

    assert renderer.source_freshness(relation) == LOADED_AT
    assert "read_blob('data/orders.csv')" in squash(renderer.queries[1])


def test_duckdb_prefers_the_formatted_relation_location_over_a_template() -> None:
    renderer = MacroRenderer("duckdb", [single_value(1), single_value(LOADED_AT)])
    relation = duckdb_relation("orders", external="read_csv('data/orders.csv')")

    renderer.source_freshness(relation, external_location="data/{name}.csv")

    assert "glob('data/orders.csv')" in squash(renderer.queries[0])


def test_duckdb_explicit_location_wins_over_the_relation() -> None:
    renderer = MacroRenderer("duckdb", [single_value(1), single_value(LOADED_AT)])
    relation = duckdb_relation("orders", external="'data/old.csv'")

    renderer.source_freshness(relation, external_location="data/new.csv")

    assert "glob('data/new.csv')" in squash(renderer.queries[0])


def test_duckdb_relation_without_external_attribute() -> None:
    renderer = MacroRenderer("duckdb", [single_value(1), single_value(LOADED_AT)])
    relation = postgres_relation("memory", "main", "orders")  # no `external` at all
    assert renderer.source_freshness(relation, external_location="data/a.csv") == LOADED_AT


@pytest.mark.parametrize(
    ("external_location", "expected"),
    [
        ("data/orders/*.parquet", "data/orders/*.parquet"),
        ("  data/orders.csv  ", "data/orders.csv"),
        ("s3://bucket/raw/orders/*.json", "s3://bucket/raw/orders/*.json"),
        ("'data/orders.csv'", "data/orders.csv"),
        ("read_csv('data/orders.csv', header=true)", "data/orders.csv"),
        ("read_csv_auto('data/orders.csv')", "data/orders.csv"),
        ("READ_PARQUET( 'data/orders/*.parquet' , hive_partitioning = 1)", "data/orders/*.parquet"),
        ("read_json_auto('data/events/*.json', format='newline_delimited')", "data/events/*.json"),
        ("read_parquet(['data/a.parquet', 'data/b.parquet'])", "data/a.parquet"),
        ("read_csv('data/it''s.csv')", "data/it's.csv"),
        ('read_csv("data/orders.csv")', "data/orders.csv"),
        ("iceberg_scan('data/warehouse/orders')", None),
        ("delta_scan('data/orders')", None),
        ("(select * from 'data/orders.csv')", None),
        ("read_csv(some_variable)", None),
        ("read_csv('')", ""),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_duckdb_external_path_extraction(
    external_location: str | None, expected: str | None
) -> None:
    renderer = MacroRenderer("duckdb")
    assert renderer.call("_duckdb_external_path", external_location) == expected


@pytest.mark.parametrize(
    "external_location",
    ["iceberg_scan('data/warehouse/orders')", "read_csv('')", "", None],
)
def test_duckdb_unmeasurable_location_runs_nothing(external_location: str | None) -> None:
    renderer = MacroRenderer("duckdb")
    assert (
        renderer.source_freshness(duckdb_relation("orders"), external_location=external_location)
        is None
    )
    assert renderer.queries == []


def test_non_duckdb_adapters_ignore_external_location() -> None:
    renderer = MacroRenderer("postgres")
    assert (
        renderer.source_freshness(relation_for("postgres"), external_location="data/*.csv") is None
    )
    assert renderer.queries == []
