"""The SQL of orchestra_dbt.data_versions, per adapter, and the versions it hands back.

The real macro files are rendered with dbt's Jinja environment against a fake context (see
tests/support/macro_render.py) for PostgreSQL, DuckDB, Snowflake, BigQuery, Databricks, Spark and
Redshift. Every query is parsed with sqlglot in the warehouse's dialect: it must be one
statement, name the tables quoted as the warehouse's relations quote them, and carry the
names unchanged in its string literals. The number of queries is checked for many relations
(one per call, database or dataset where the warehouse allows it), and so is the dict built
from canned answers. The queries run for real on DuckDB and PostgreSQL in
tests/integration/test_package_macros.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlglot import exp

from tests.support.macro_render import (
    MacroRenderer,
    backtick_relation,
    duckdb_relation,
    package_macros,
    postgres_relation,
    snowflake_relation,
    squash,
    table,
    warehouse_relation,
)
from tests.support.version_sql import (
    DUCK_CATALOG,
    DUCK_DIGEST,
    PG_CATALOG,
    PG_DIGEST,
    SNOWFLAKE,
    parse_one,
    pg_stored,
    selects,
    string_literals,
    table_names,
)

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

ADAPTERS = ["postgres", "duckdb", "snowflake", "bigquery", "databricks", "spark", "redshift"]

# Names that need quoting, escaping or case care.
ODD_NAMES = ["it's", "Mixed Case", "back\\slash", "dots.in.name", "ünï"]

DUCK_FILES = ["relation_position", "file_count", "total_bytes", "newest_modified", "listing_digest"]
BIGQUERY = ["table_id", "last_modified_time", "row_count", "size_bytes"]
HISTORY = ["version", "timestamp", "userId", "operation"]


def relation_for(adapter_type: str, identifier: str = "orders") -> Any:
    if adapter_type == "snowflake":
        return snowflake_relation("analytics", "raw", identifier)
    if adapter_type in {"bigquery", "databricks"}:
        return warehouse_relation(adapter_type, "proj", "raw", identifier)
    if adapter_type == "spark":
        return warehouse_relation("spark", None, "raw", identifier)
    if adapter_type == "duckdb":
        return duckdb_relation(identifier)
    return postgres_relation("analytics", "raw", identifier)


# --- the public macro ---------------------------------------------------------------


def test_public_macro_only_dispatches() -> None:
    (public,) = [macro for macro in package_macros() if macro.name == "data_versions"]
    assert squash(public.sql) == (
        "{% macro data_versions(relations) -%} "
        "{{ return(adapter.dispatch('data_versions', 'orchestra_dbt')(relations)) }} "
        "{%- endmacro %}"
    )


def test_the_variants() -> None:
    names = {macro.name for macro in package_macros()}
    variants = {name.split("__")[0] for name in names if name.endswith("__data_versions")}
    assert variants == {
        "default",
        "postgres",
        "redshift",
        "duckdb",
        "snowflake",
        "bigquery",
        "databricks",
        "spark",
    }


@pytest.mark.parametrize("adapter_type", ADAPTERS)
def test_nothing_runs_at_parse_time(adapter_type: str) -> None:
    renderer = MacroRenderer(adapter_type, execute=False)
    relations = [relation_for(adapter_type), relation_for(adapter_type, "customers")]
    assert renderer.call("data_versions", relations) == {}
    assert renderer.queries == []
    assert renderer.warehouse.lookups == []


@pytest.mark.parametrize("adapter_type", ADAPTERS)
def test_no_relations_no_query(adapter_type: str) -> None:
    renderer = MacroRenderer(adapter_type)
    assert renderer.call("data_versions", []) == {}
    assert renderer.queries == []


@pytest.mark.parametrize("adapter_type", ["redshift", "sqlserver", "trino"])
def test_other_warehouses_know_nothing(adapter_type: str) -> None:
    # Redshift would otherwise fall through to postgres__ (its parent), which needs xmin.
    renderer = MacroRenderer(adapter_type)
    relations = [postgres_relation("dev", "raw", "orders"), postgres_relation("dev", "raw", "b")]
    assert renderer.call("data_versions", relations) == {
        '"dev"."raw"."orders"': {},
        '"dev"."raw"."b"': {},
    }
    assert renderer.queries == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("abc", "abc"),
        ("", ""),
        (12, "12"),
        (
            Decimal("340282366920938463463374607431768211455"),
            "340282366920938463463374607431768211455",
        ),
        (
            dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
            "2024-05-06T07:08:09.123456+00:00",
        ),
        (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09"),
    ],
)
def test_version_text(value: Any, text: str) -> None:
    assert MacroRenderer("postgres").call("_version_text", value) == text


# --- PostgreSQL -------------------------------------------------------------------------


def pg_relations() -> list[Any]:
    return [
        postgres_relation("analytics", "raw", "orders"),
        postgres_relation("analytics", "raw", "gone"),
        *(postgres_relation("analytics", "Odd Schema", name) for name in ODD_NAMES),
        postgres_relation("analytics", "staging", "customers"),
        postgres_relation("analytics", "raw", "orders"),  # a repeat is measured once
    ]


def test_postgres_two_queries_for_many_relations() -> None:
    relations = pg_relations()
    distinct = relations[:-1]
    existing = [i for i in range(len(distinct)) if i != 1]  # all but "gone"
    catalog = table(
        PG_CATALOG,
        *(
            pg_stored(i, distinct[i].schema, distinct[i].identifier, f"{16384 + i}")
            for i in existing
        ),
    )
    # The second query measures each stored relation once, by its index among them.
    digest = table(PG_DIGEST, *([k, f"{i}", f"{i * 1000}"] for k, i in enumerate(existing)))
    renderer = MacroRenderer("postgres", [catalog, digest])

    versions = renderer.call("data_versions", relations)

    assert len(renderer.queries) == 2
    assert list(versions) == [relation.render() for relation in distinct]
    assert versions['"analytics"."raw"."gone"'] == {}
    assert versions['"analytics"."raw"."orders"'] == {
        "oid": "16384",
        "relfilenode": "20000",
        "columns": "md5-16384",
        "rows": "0",
        "xmin_digest": "0",
    }
    for position in existing:
        version = versions[distinct[position].render()]
        assert version["oid"] == f"{16384 + position}"
        assert version["xmin_digest"] == f"{position * 1000}"

    # The catalog query: one VALUES row per distinct relation, names unchanged.
    catalog_sql = parse_one(renderer.queries[0], "postgres")
    literals = string_literals(catalog_sql)
    for relation in distinct:
        assert relation.schema in literals
        assert relation.identifier in literals
    values = catalog_sql.find(exp.Values)
    assert values is not None and len(values.expressions) == len(distinct)
    assert {"pg_namespace", "pg_class", "pg_attribute"} <= {t[-1] for t in table_names(catalog_sql)}

    # The digest query: one `union all` branch per existing table, quoted as PostgreSQL quotes.
    digest_sql = parse_one(renderer.queries[1], "postgres")
    branches = selects(digest_sql)
    assert len(branches) == len(existing)
    assert table_names(digest_sql) == [
        (distinct[i].database, distinct[i].schema, distinct[i].identifier) for i in existing
    ]
    for index, branch in enumerate(branches):
        assert branch.expressions[0].this.this == str(index)
        assert "hashint8extended" in branch.sql("postgres").lower()
        assert "xmin" in branch.sql("postgres")
    for relation in (distinct[i] for i in existing):
        assert relation.render() in renderer.queries[1]


def test_postgres_unquoted_names_are_matched_lower_cased() -> None:
    relation = postgres_relation("analytics", "Raw", "Orders").quote(schema=False, identifier=False)
    renderer = MacroRenderer("postgres", [table(PG_CATALOG)])
    assert renderer.call("data_versions", [relation]) == {'"analytics".Raw.Orders': {}}
    literals = string_literals(parse_one(renderer.queries[0], "postgres"))
    assert "raw" in literals and "orders" in literals


def test_postgres_without_database_or_schema_uses_the_current_ones() -> None:
    relation = warehouse_relation("postgres", None, None, "orders")
    renderer = MacroRenderer("postgres", [table(PG_CATALOG)])
    assert renderer.call("data_versions", [relation]) == {'"orders"': {}}
    assert "(0, current_database(), current_schema(), 'orders')" in squash(renderer.queries[0])
    parse_one(renderer.queries[0], "postgres")


def test_postgres_no_table_exists_one_query() -> None:
    renderer = MacroRenderer("postgres", [table(PG_CATALOG)])
    relations = [postgres_relation("a", "raw", "x"), postgres_relation("a", "raw", "y")]
    assert renderer.call("data_versions", relations) == {
        '"a"."raw"."x"': {},
        '"a"."raw"."y"': {},
    }
    assert len(renderer.queries) == 1


def test_postgres_table_gone_between_the_queries_is_unknown() -> None:
    catalog = table(PG_CATALOG, pg_stored(0, "raw", "x", "1"), pg_stored(1, "raw", "y", "3"))
    digest = table(PG_DIGEST, [1, "5", "6"])
    renderer = MacroRenderer("postgres", [catalog, digest])
    relations = [postgres_relation("a", "raw", "x"), postgres_relation("a", "raw", "y")]
    versions = renderer.call("data_versions", relations)
    assert versions['"a"."raw"."x"'] == {}
    assert versions['"a"."raw"."y"']["rows"] == "5"


# --- DuckDB -----------------------------------------------------------------------------


def test_duckdb_tables_and_files_in_four_queries() -> None:
    relations = [
        duckdb_relation("orders"),
        duckdb_relation("gone"),
        *(duckdb_relation(name) for name in ODD_NAMES),
        duckdb_relation("events", external="'data/events/*.parquet'"),
        duckdb_relation(
            "listed", external="read_csv(['data/a.csv', 'data/it''s.csv'], header=true)"
        ),
        duckdb_relation("empty", external="'data/none/*.csv'"),
        duckdb_relation("lake", external="iceberg_scan('data/lake')"),
    ]
    tables = relations[:-4]
    existing = [i for i in range(len(tables)) if i != 1]
    events, listed = len(tables), len(tables) + 1  # positions among all the relations
    answers = [
        table(DUCK_CATALOG, *([i, f"cols-{i}", None] for i in existing)),
        table(DUCK_DIGEST, *([i, f"{i}", f"{i * 7}"] for i in existing)),
        table(["relation_position"], [events], [listed]),  # 'empty' matches no file
        table(
            DUCK_FILES,
            [events, "3", "300", "1700000000000000", "11"],
            [listed, "2", "20", "17", "22"],
        ),
    ]
    renderer = MacroRenderer("duckdb", answers)

    versions = renderer.call("data_versions", relations)

    assert len(renderer.queries) == 4
    # dbt-duckdb renders a file-backed source as its location: that is its key.
    assert list(versions) == [relation.render() for relation in relations]
    assert "'data/events/*.parquet'" in versions
    assert versions['"memory"."main"."orders"'] == {"columns": "cols-0", "rows": "0", "digest": "0"}
    assert versions['"memory"."main"."gone"'] == {}
    assert versions["'data/events/*.parquet'"] == {
        "files": "3",
        "bytes": "300",
        "modified": "1700000000000000",
        "listing": "11",
    }
    assert versions[relations[listed].render()]["files"] == "2"
    assert versions["'data/none/*.csv'"] == {}
    assert versions["iceberg_scan('data/lake')"] == {}

    catalog_sql, digest_sql, glob_sql, files_sql = (
        parse_one(sql, "duckdb") for sql in renderer.queries
    )
    literals = string_literals(catalog_sql)
    assert all(name in literals for name in ODD_NAMES)
    assert "information_schema" in {t[-2] for t in table_names(catalog_sql) if len(t) > 1}

    assert len(selects(digest_sql)) == len(existing)
    assert table_names(digest_sql) == [("memory", "main", tables[i].identifier) for i in existing]
    for i in existing:
        assert tables[i].render() in renderer.queries[1]
    assert "hash(orchestra_dbt_row)" in squash(renderer.queries[1])

    # Every path of every file source is checked, and read, in one query each.
    assert string_literals(glob_sql).count("data/events/*.parquet") == 1
    assert {"data/a.csv", "data/it's.csv", "data/none/*.csv"} <= set(string_literals(glob_sql))
    assert len(selects(files_sql)) == 2  # not 'empty', whose pattern matched nothing
    assert "read_blob(['data/a.csv', 'data/it''s.csv'])" in squash(renderer.queries[3])
    assert "read_blob('data/events/*.parquet')" in squash(renderer.queries[3])
    assert "content" not in squash(renderer.queries[3])  # file contents are never read


def test_duckdb_catalog_asks_for_each_relations_own_database_schema_and_name() -> None:
    # The query quotes each database and schema once and reuses the literal: every row of
    # its list must still carry its own relation's names.
    relations = [
        duckdb_relation("a"),
        duckdb_relation("b", schema="it's"),
        duckdb_relation("c", schema="main", database="other"),
        duckdb_relation("main", schema="memory", database="main"),
        duckdb_relation("d", schema="it's"),
    ]
    renderer = MacroRenderer("duckdb", [table(DUCK_CATALOG)])
    renderer.call("data_versions", relations)

    (values,) = parse_one(renderer.queries[0], "duckdb").find_all(exp.Values)
    rows = [[literal.this for literal in row.expressions] for row in values.expressions]
    assert rows == [[str(i), r.database, r.schema, r.identifier] for i, r in enumerate(relations)]


def test_duckdb_only_tables_two_queries() -> None:
    renderer = MacroRenderer(
        "duckdb", [table(DUCK_CATALOG, [0, "c", None]), table(DUCK_DIGEST, [0, "1", "2"])]
    )
    versions = renderer.call("data_versions", [duckdb_relation("a")])
    assert versions == {'"memory"."main"."a"': {"columns": "c", "rows": "1", "digest": "2"}}
    assert len(renderer.queries) == 2


def test_duckdb_only_files_two_queries() -> None:
    renderer = MacroRenderer(
        "duckdb",
        [table(["relation_position"], [0]), table(DUCK_FILES, [0, "1", "2", "3", "4"])],
    )
    versions = renderer.call("data_versions", [duckdb_relation("f", external="'x/*.csv'")])
    assert versions == {"'x/*.csv'": {"files": "1", "bytes": "2", "modified": "3", "listing": "4"}}
    assert [squash(sql).split(" from ")[0] for sql in renderer.queries] == [
        "select relation_position",
        "select 0 as relation_position, cast(count(*) as varchar) as file_count, "
        "cast(coalesce(sum(size), 0) as varchar) as total_bytes, "
        "cast(epoch_us(max(last_modified)) as varchar) as newest_modified, "
        "cast(coalesce(sum(cast(hash(row(filename, size, last_modified)) as hugeint)), 0) "
        "as varchar) as listing_digest",
    ]


def test_duckdb_unmeasurable_files_run_nothing() -> None:
    renderer = MacroRenderer("duckdb")
    relation = duckdb_relation("lake", external="delta_scan('data/lake')")
    assert renderer.call("data_versions", [relation]) == {"delta_scan('data/lake')": {}}
    assert renderer.queries == []


def test_duckdb_tables_with_the_row_alias_as_a_column_are_left_out() -> None:
    renderer = MacroRenderer("duckdb", [table(DUCK_CATALOG)])
    renderer.call("data_versions", [duckdb_relation("a")])
    assert (
        "having count(*) filter (where lower(c.column_name) = 'orchestra_dbt_row') = 0"
        in squash(renderer.queries[0])
    )


@pytest.mark.parametrize(
    ("external_location", "expected"),
    [
        ("data/orders/*.parquet", ["data/orders/*.parquet"]),
        ("'data/orders.csv'", ["data/orders.csv"]),
        ("read_csv('data/orders.csv', header = true)", ["data/orders.csv"]),
        ("read_parquet(['data/a.parquet', 'b/*.parquet'])", ["data/a.parquet", "b/*.parquet"]),
        (
            "read_parquet( [ 'a.parquet' , \"b.parquet\" , ] , union_by_name = true)",
            ["a.parquet", "b.parquet"],
        ),
        ("read_csv(['data/[0-9].csv', 'it''s.csv'])", ["data/[0-9].csv", "it's.csv"]),
        ("read_csv(['a.csv', ''])", None),
        ("read_csv([some_variable])", None),
        ("read_csv([])", None),
        ("iceberg_scan(['a'])", None),
        ("iceberg_scan('data/x')", None),
        ("(select * from 'data/orders.csv')", None),
        ("", None),
        (None, None),
    ],
)
def test_duckdb_external_paths(external_location: str | None, expected: list[str] | None) -> None:
    renderer = MacroRenderer("duckdb")
    assert renderer.call("_duckdb_external_paths", external_location) == expected


# --- Snowflake --------------------------------------------------------------------------


def test_snowflake_one_query_per_database() -> None:
    relations = [
        snowflake_relation("analytics", "raw", "orders"),
        snowflake_relation("analytics", "raw", "customers"),
        snowflake_relation("analytics", "staging", "stg_orders"),
        snowflake_relation("Other", "Raw Data", "it's", quoted=True),
        snowflake_relation("Other", "Raw Data", "back\\slash", quoted=True),
        snowflake_relation("analytics", "raw", "gone"),
    ]
    answers = [
        table(
            SNOWFLAKE,
            ["RAW", "ORDERS", "BASE TABLE", "1714979289123456789", "10", "1024"],
            ["STAGING", "STG_ORDERS", "BASE TABLE", "5", "6", "7"],
        ),
        table(SNOWFLAKE, ["Raw Data", "it's", "BASE TABLE", "8", "9", "10"]),
    ]
    renderer = MacroRenderer("snowflake", answers)

    versions = renderer.call("data_versions", relations)

    assert len(renderer.queries) == 2
    assert versions == {
        "analytics.raw.orders": {
            "last_altered": "1714979289123456789",
            "rows": "10",
            "bytes": "1024",
        },
        "analytics.raw.customers": {},
        "analytics.staging.stg_orders": {"last_altered": "5", "rows": "6", "bytes": "7"},
        '"Other"."Raw Data"."it\'s"': {"last_altered": "8", "rows": "9", "bytes": "10"},
        '"Other"."Raw Data"."back\\slash"': {},
        "analytics.raw.gone": {},
    }
    first, second = (parse_one(sql, "snowflake") for sql in renderer.queries)
    assert table_names(first) == [("analytics", "INFORMATION_SCHEMA", "tables")]
    assert table_names(second) == [("Other", "INFORMATION_SCHEMA", "tables")]
    # Unquoted names as Snowflake stores them (upper case), quoted ones as written.
    assert set(string_literals(first)) == {
        "BASE TABLE",
        "VIEW",
        "RAW",
        "ORDERS",
        "CUSTOMERS",
        "GONE",
        "STAGING",
        "STG_ORDERS",
    }
    assert set(string_literals(second)) == {"BASE TABLE", "VIEW", "Raw Data", "it's", "back\\slash"}
    assert "date_part(epoch_nanosecond, last_altered)" in squash(renderer.queries[0])


# --- BigQuery ---------------------------------------------------------------------------


def test_bigquery_one_query_per_dataset() -> None:
    relations = [
        backtick_relation("my-project", "raw", "orders"),
        backtick_relation("my-project", "raw", "Customers"),
        backtick_relation("my-project", "staging", "stg"),
        backtick_relation("other-project", "raw", "orders"),
        backtick_relation("my-project", "raw", "gone"),
    ]
    answers = [
        table(BIGQUERY, ["orders", "1714979289123", "10", "1024"], ["Customers", "1", "2", "3"]),
        table(BIGQUERY),
        table(BIGQUERY, ["orders", "4", "5", "6"]),
    ]
    renderer = MacroRenderer("bigquery", answers)

    versions = renderer.call("data_versions", relations)

    assert len(renderer.queries) == 3
    assert versions == {
        "`my-project`.`raw`.`orders`": {
            "last_modified": "1714979289123",
            "rows": "10",
            "bytes": "1024",
        },
        "`my-project`.`raw`.`Customers`": {"last_modified": "1", "rows": "2", "bytes": "3"},
        "`my-project`.`staging`.`stg`": {},
        "`other-project`.`raw`.`orders`": {"last_modified": "4", "rows": "5", "bytes": "6"},
        "`my-project`.`raw`.`gone`": {},
    }
    parsed = [parse_one(sql, "bigquery") for sql in renderer.queries]
    assert [table_names(query) for query in parsed] == [
        [("my-project", "raw", "__TABLES__")],
        [("my-project", "staging", "__TABLES__")],
        [("other-project", "raw", "__TABLES__")],
    ]
    assert string_literals(parsed[0]) == ["orders", "Customers", "gone"]  # case kept
    assert "`my-project`.`raw`.`__TABLES__`" in renderer.queries[0]


# --- Databricks and Spark ---------------------------------------------------------------


def test_databricks_one_catalog_query_then_history_per_delta_table() -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    relations = [
        warehouse_relation("databricks", "main", "Raw", "Orders"),
        warehouse_relation("databricks", "main", "raw", "a_view"),
        warehouse_relation("databricks", "main", "staging", "stg"),
        warehouse_relation("databricks", "other", "raw", "events"),
        warehouse_relation("databricks", "hive_metastore", "legacy", "delta_t"),
        warehouse_relation("databricks", "hive_metastore", "legacy", "parquet_t"),
    ]
    answers = [
        table(["table_schema", "table_name"], ["raw", "orders"], ["staging", "stg"]),
        table(HISTORY, [12, when, "u", "WRITE"]),
        table(HISTORY, [3, when, "u", "MERGE"]),
        table(["table_schema", "table_name"]),
        table(HISTORY, [0, when, "u", "CREATE TABLE"]),
    ]
    renderer = MacroRenderer(
        "databricks",
        answers,
        tables=[("hive_metastore", "legacy", "delta_t"), ("hive_metastore", "legacy", "parquet_t")],
        table_details={
            ("hive_metastore", "legacy", "delta_t"): {
                "information": "Provider: delta",
                "is_delta": True,
            },
            ("hive_metastore", "legacy", "parquet_t"): {
                "information": "Provider: parquet",
                "is_delta": False,
            },
        },
    )

    versions = renderer.call("data_versions", relations)

    assert versions == {
        "`main`.`Raw`.`Orders`": {"version": "12", "timestamp": "2024-05-06T07:08:09+00:00"},
        "`main`.`raw`.`a_view`": {},
        "`main`.`staging`.`stg`": {"version": "3", "timestamp": "2024-05-06T07:08:09+00:00"},
        "`other`.`raw`.`events`": {},
        "`hive_metastore`.`legacy`.`delta_t`": {
            "version": "0",
            "timestamp": "2024-05-06T07:08:09+00:00",
        },
        "`hive_metastore`.`legacy`.`parquet_t`": {},
    }
    queries = [squash(sql) for sql in renderer.queries]
    assert queries[1:3] == [
        "describe history `main`.`Raw`.`Orders` limit 1",
        "describe history `main`.`staging`.`stg` limit 1",
    ]
    assert queries[4] == "describe history `hive_metastore`.`legacy`.`delta_t` limit 1"
    assert len(queries) == 5
    for index, catalog in ((0, "main"), (3, "other")):
        parsed = parse_one(renderer.queries[index], "databricks")
        assert table_names(parsed) == [(catalog, "information_schema", "tables")]
        assert f"`{catalog}`.`information_schema`.`tables`" in renderer.queries[index]
    # Unity Catalog stores names lower-cased.
    assert set(string_literals(parse_one(renderer.queries[0], "databricks"))) == {
        "MANAGED",
        "EXTERNAL",
        "DELTA",
        "raw",
        "orders",
        "a_view",
        "staging",
        "stg",
    }


def test_databricks_table_without_history_is_unknown() -> None:
    renderer = MacroRenderer(
        "databricks", [table(["table_schema", "table_name"], ["raw", "t"]), table(HISTORY)]
    )
    relation = warehouse_relation("databricks", "main", "raw", "t")
    assert renderer.call("data_versions", [relation]) == {"`main`.`raw`.`t`": {}}


def test_spark_history_of_delta_tables_only() -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9)
    renderer = MacroRenderer(
        "spark",
        [table(HISTORY, [7, when, "u", "WRITE"])],
        tables=[(None, "raw", "delta_t"), (None, "raw", "parquet_t"), (None, "raw", "unknown_t")],
        table_details={
            (None, "raw", "delta_t"): {"information": "Provider: delta", "is_delta": True},
            (None, "raw", "parquet_t"): {"information": "Provider: parquet", "is_delta": False},
        },
    )
    relations = [
        warehouse_relation("spark", None, "raw", name)
        for name in ("delta_t", "parquet_t", "unknown_t", "missing_t")
    ]
    assert renderer.call("data_versions", relations) == {
        "raw.delta_t": {"version": "7", "timestamp": "2024-05-06T07:08:09"},
        "raw.parquet_t": {},
        "raw.unknown_t": {},  # no description in the cache: not known to be Delta
        "raw.missing_t": {},
    }
    assert [squash(sql) for sql in renderer.queries] == ["describe history raw.delta_t limit 1"]
    assert renderer.warehouse.lookups == [
        (None, "raw", name) for name in ("delta_t", "parquet_t", "unknown_t", "missing_t")
    ]


def test_spark_views_are_unknown() -> None:
    renderer = MacroRenderer(
        "spark",
        tables=[(None, "raw", "v")],
        table_details={(None, "raw", "v"): {"type": "view", "information": "x", "is_delta": True}},
    )
    assert renderer.call("data_versions", [warehouse_relation("spark", None, "raw", "v")]) == {
        "raw.v": {}
    }
    assert renderer.queries == []
