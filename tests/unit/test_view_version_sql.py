"""The data versions of views, per warehouse, from the data_versions macros rendered with
dbt's Jinja (tests/support/macro_render.py) against canned answers: a view's version follows
what it reads (its definition and the tables under it, through other views), and a view
that reads what the warehouse cannot vouch for stays unknown. The queries run for real on
DuckDB and PostgreSQL in tests/integration/test_package_macros.py."""

from __future__ import annotations

import pytest

from tests.support.macro_render import (
    MacroRenderer,
    duckdb_relation,
    postgres_relation,
    snowflake_relation,
    squash,
    table,
)
from tests.support.version_sql import (
    DUCK_CATALOG,
    DUCK_DIGEST,
    PG_CATALOG,
    PG_DIGEST,
    SNOWFLAKE,
    SNOWFLAKE_REFERENCES,
    parse_one,
    pg_stored,
    selects,
    string_literals,
    table_names,
)

# Runs dbt-core's code (its Jinja): tested on every supported release.
pytestmark = pytest.mark.compat


def test_postgres_views_follow_the_tables_under_them() -> None:
    relations = [
        postgres_relation("analytics", "raw", "v_orders"),  # over a view over land.orders
        postgres_relation("analytics", "raw", "v_both"),  # over land.orders and raw.payments
        postgres_relation("analytics", "raw", "v_constant"),  # reads no table
        postgres_relation("analytics", "raw", "payments"),
        postgres_relation("analytics", "raw", "v_gone"),  # its table dropped meanwhile
    ]
    catalog = table(
        PG_CATALOG,
        pg_stored(0, "land", "orders", "100", definition="def-0"),
        pg_stored(1, "land", "orders", "100", definition="def-1"),
        pg_stored(1, "raw", "payments", "200", definition="def-1"),
        [2, "def-2", None, None, None, None, None, None],
        pg_stored(3, "raw", "payments", "200"),
        pg_stored(4, "land", "dropped", "300", definition="def-4"),
    )
    # Each stored relation is measured once, in the order first met.
    digest = table(PG_DIGEST, [0, "5", "50"], [1, "6", "60"])
    renderer = MacroRenderer("postgres", [catalog, digest])

    versions = renderer.call("data_versions", relations)

    orders = {
        "land.orders.oid": "100",
        "land.orders.relfilenode": "3716",
        "land.orders.columns": "md5-100",
        "land.orders.rows": "5",
        "land.orders.xmin_digest": "50",
    }
    assert versions == {
        '"analytics"."raw"."v_orders"': {"definition": "def-0", **orders},
        '"analytics"."raw"."v_both"': {
            "definition": "def-1",
            **orders,
            "raw.payments.oid": "200",
            "raw.payments.relfilenode": "3816",
            "raw.payments.columns": "md5-200",
            "raw.payments.rows": "6",
            "raw.payments.xmin_digest": "60",
        },
        '"analytics"."raw"."v_constant"': {"definition": "def-2"},
        '"analytics"."raw"."payments"': {
            "oid": "200",
            "relfilenode": "3816",
            "columns": "md5-200",
            "rows": "6",
            "xmin_digest": "60",
        },
        '"analytics"."raw"."v_gone"': {},
    }
    assert table_names(parse_one(renderer.queries[1], "postgres")) == [
        ("analytics", "land", "orders"),
        ("analytics", "raw", "payments"),
        ("analytics", "land", "dropped"),
    ]


def test_postgres_catalog_query_walks_the_views_dependencies() -> None:
    renderer = MacroRenderer("postgres", [table(PG_CATALOG)])
    renderer.call("data_versions", [postgres_relation("analytics", "raw", "v_orders")])
    catalog_sql = parse_one(renderer.queries[0], "postgres")
    read = {t[-1] for t in table_names(catalog_sql)}
    assert {"pg_rewrite", "pg_depend", "pg_proc", "pg_class"} <= read
    sql = squash(renderer.queries[0])
    assert sql.startswith("with recursive wanted")
    assert "c.relkind in ('r', 'p', 'm', 'v')" in sql  # views are found, foreign tables not
    assert "pg_catalog.pg_get_viewdef(v.oid)" in sql
    assert "p.provolatile = 'v'" in sql
    assert "like '%SQLVALUEFUNCTION%'" in sql


def test_duckdb_views_are_measured_by_their_rows_and_definition() -> None:
    renderer = MacroRenderer(
        "duckdb",
        [
            table(DUCK_CATALOG, [0, "c", None], [1, "d", "view-md5"]),
            table(DUCK_DIGEST, [0, "1", "2"], [1, "3", "4"]),
        ],
    )
    versions = renderer.call("data_versions", [duckdb_relation("t"), duckdb_relation("v")])
    assert versions == {
        '"memory"."main"."t"': {"columns": "c", "rows": "1", "digest": "2"},
        '"memory"."main"."v"': {
            "columns": "d",
            "definition": "view-md5",
            "rows": "3",
            "digest": "4",
        },
    }
    catalog = squash(renderer.queries[0])
    assert "where t.table_type in ('BASE TABLE', 'VIEW')" in catalog
    assert "md5(any_value(v.view_definition)) as definition_digest" in catalog
    assert "left join information_schema.views as v" in catalog
    assert table_names(parse_one(renderer.queries[1], "duckdb")) == [
        ("memory", "main", "t"),
        ("memory", "main", "v"),
    ]


def test_snowflake_views_follow_the_objects_they_reference() -> None:
    relations = [
        snowflake_relation("analytics", "raw", "v_orders"),
        snowflake_relation("analytics", "raw", "orders"),
        snowflake_relation("analytics", "raw", "v_odd"),
    ]

    def reference(viewer: str, read: str, kind: str) -> list[str]:
        return [*viewer.split("."), *read.split("."), kind]

    answers = [
        table(
            SNOWFLAKE,
            ["RAW", "V_ORDERS", "VIEW", "100", None, None],
            ["RAW", "ORDERS", "BASE TABLE", "1", "2", "3"],
            ["RAW", "V_ODD", "VIEW", "300", None, None],
        ),
        # What the two views reference: a view in another schema over a table in another
        # database, and a table beside an object of another type.
        table(
            SNOWFLAKE_REFERENCES,
            reference("ANALYTICS.RAW.V_ORDERS", "ANALYTICS.STAGING.V_CLEAN", "VIEW"),
            reference("ANALYTICS.RAW.V_ORDERS", "OTHER.LAND.ORDERS", "TABLE"),
            reference("ANALYTICS.RAW.V_ODD", "ANALYTICS.RAW.ORDERS", "TABLE"),
            reference("ANALYTICS.RAW.V_ODD", "ANALYTICS.RAW.ORDERS_EXT", "EXTERNAL TABLE"),
        ),
        # The next level: what the view under v_orders references.
        table(
            SNOWFLAKE_REFERENCES,
            reference("ANALYTICS.STAGING.V_CLEAN", "OTHER.LAND.ORDERS", "TABLE"),
        ),
        table(SNOWFLAKE, ["STAGING", "V_CLEAN", "VIEW", "50", None, None]),
        table(SNOWFLAKE, ["LAND", "ORDERS", "BASE TABLE", "7", "8", "9"]),
    ]
    renderer = MacroRenderer("snowflake", answers)

    versions = renderer.call("data_versions", relations)

    assert versions == {
        "analytics.raw.v_orders": {
            "last_altered": "100",
            "ANALYTICS.STAGING.V_CLEAN.last_altered": "50",
            "OTHER.LAND.ORDERS.last_altered": "7",
            "OTHER.LAND.ORDERS.rows": "8",
            "OTHER.LAND.ORDERS.bytes": "9",
        },
        "analytics.raw.orders": {"last_altered": "1", "rows": "2", "bytes": "3"},
        "analytics.raw.v_odd": {},
    }
    assert len(renderer.queries) == 5
    parsed = [parse_one(sql, "snowflake") for sql in renderer.queries]
    first_level, second_level = parsed[1], parsed[2]
    assert len(selects(first_level)) == 2 and len(selects(second_level)) == 1
    assert set(string_literals(first_level)) == {'"ANALYTICS"', '"RAW"', '"V_ORDERS"', '"V_ODD"'}
    assert '"ANALYTICS".INFORMATION_SCHEMA.get_object_references(' in renderer.queries[1]
    assert "database_name => '\"ANALYTICS\"'" in renderer.queries[2]
    assert [table_names(query) for query in parsed[3:]] == [
        [("ANALYTICS", "INFORMATION_SCHEMA", "tables")],
        [("OTHER", "INFORMATION_SCHEMA", "tables")],
    ]
    assert set(string_literals(parsed[3])) >= {"STAGING", "V_CLEAN", "ORDERS_EXT"}
