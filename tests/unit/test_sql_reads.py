"""What a compiled model's SQL reads (orchestra_dbt_py/sql_reads.py): relations by name in
each warehouse's dialect and case rule, CTEs left out, table functions, the clock at day
grain and below it, and SQL that cannot be read."""

from __future__ import annotations

import pytest

from orchestra_dbt_py.sql_reads import (
    DECLARED,
    UnreadableSql,
    clock_query,
    dialect_of,
    read_sql,
    relation_parts,
    sql_of_template,
)


@pytest.mark.parametrize(
    ("dialect", "sql", "relations"),
    [
        # CTEs (also one shadowing a real name), subqueries and unions.
        (
            "duckdb",
            "with orders as (select * from raw.orders), b as (select * from orders) "
            "select * from b join (select * from raw.src_3) s on true "
            "where exists (select 1 from main.z) union all select * from c",
            [("", "raw", "orders"), ("", "raw", "src_3"), ("", "main", "z"), ("", "", "c")],
        ),
        # Case: unquoted names fold, quoted ones keep their case where the warehouse does.
        ("postgres", 'select * from Raw."Src_3", RAW.t', [("", "raw", "Src_3"), ("", "raw", "t")]),
        (
            "snowflake",
            'select * from db.raw.src, "db"."Raw".x',
            [("DB", "RAW", "SRC"), ("db", "Raw", "X")],
        ),
        ("duckdb", 'select * from "Raw"."Src_3"', [("", "raw", "src_3")]),
        (
            "bigquery",
            "select * from `proj.ds.t` join ds.u using (id)",
            [("proj", "ds", "t"), ("", "ds", "u")],
        ),
        ("databricks", "select * from Cat.Sch.T", [("cat", "sch", "t")]),
        (
            "redshift",
            "select * from public.events e join stg.x using (id)",
            [("", "public", "events"), ("", "stg", "x")],
        ),
        ("tsql", "select * from dbo.t", [("", "dbo", "t")]),
        # The catalog is a relation like any other.
        (
            "postgres",
            "select * from information_schema.tables",
            [("", "information_schema", "tables")],
        ),
        # Several statements.
        ("duckdb", "select 1 from a; select 1 from b", [("", "", "a"), ("", "", "b")]),
    ],
)
def test_relations_read_by_name(
    dialect: str, sql: str, relations: list[tuple[str, str, str]]
) -> None:
    assert sorted(read_sql(sql, dialect).relations) == sorted(relations)


def test_table_functions_that_may_read_are_kept_pure_ones_are_not() -> None:
    reads = read_sql(
        "select * from read_csv('x.csv'), range(3), generate_series(1, 2), unnest([1]) as u(x)",
        "duckdb",
    )
    assert reads.functions == ("READ_CSV('x.csv')",)
    assert reads.relations == ()


@pytest.mark.parametrize(
    ("dialect", "sql", "date_clocks", "volatile"),
    [
        (
            "duckdb",
            "select current_date - 30, today(), now(), date_trunc('month', now()), "
            "cast(now() as date), date_trunc('hour', now())",
            ["CURRENT_DATE", "DATE_TRUNC('MONTH', NOW())", "CAST(NOW() AS DATE)"],
            ["NOW()"],
        ),
        (
            "postgres",
            "select now()::date, date_trunc('week', now()), localtimestamp, clock_timestamp()",
            ["CAST(CURRENT_TIMESTAMP AS DATE)", "DATE_TRUNC('WEEK', CURRENT_TIMESTAMP)"],
            ["LOCALTIMESTAMP", "CLOCK_TIMESTAMP()"],
        ),
        (
            "snowflake",
            "select sysdate(), to_date(current_timestamp()), date_trunc(day, getdate())",
            ["TO_DATE(CURRENT_TIMESTAMP())", "DATE_TRUNC('DAY', CURRENT_TIMESTAMP())"],
            ["SYSDATE()"],
        ),
        (
            "bigquery",
            "select current_date(), date(current_timestamp()), current_datetime()",
            ["CURRENT_DATE", "date(current_timestamp())"],
            ["current_datetime()"],
        ),
        ("redshift", "select trunc(sysdate), getdate()", ["TRUNC(SYSDATE)"], ["GETDATE()"]),
        (
            "databricks",
            "select to_date(now()), current_timestamp()",
            ["TO_DATE(CURRENT_TIMESTAMP())"],
            ["CURRENT_TIMESTAMP()"],
        ),
        (
            "tsql",
            "select cast(getdate() as date), sysdatetime()",
            ["CAST(GETDATE() AS DATE)"],
            ["GETDATE()"],
        ),
    ],
)
def test_the_clock_at_day_grain_and_below(
    dialect: str, sql: str, date_clocks: list[str], volatile: list[str]
) -> None:
    reads = read_sql(sql, dialect)
    assert sorted(reads.date_clocks) == sorted(date_clocks)
    assert sorted(reads.volatile_clocks) == sorted(volatile)


def test_sql_that_cannot_be_parsed_is_unreadable_with_a_one_line_reason() -> None:
    with pytest.raises(UnreadableSql) as raised:
        read_sql("select from where", "duckdb")
    assert "\n" not in str(raised.value) and "\x1b" not in str(raised.value)
    with pytest.raises(UnreadableSql):
        read_sql("-- nothing but a comment", "duckdb")


def test_names_dbt_knows_fold_like_names_in_the_sql() -> None:
    assert relation_parts("DB", "Raw", "T", "snowflake", False) == ("DB", "RAW", "T")
    assert relation_parts("db", "Raw", "T", "postgres", True) == ("db", "Raw", "T")
    assert relation_parts("db", "Raw", "T", "postgres", False) == ("db", "raw", "t")


def test_the_clock_query_selects_every_expression_in_the_dialect() -> None:
    sql = clock_query(["CURRENT_DATE", "DATE_TRUNC('MONTH', NOW())"], "duckdb")
    assert sql == "SELECT CURRENT_DATE AS c0, DATE_TRUNC('MONTH', NOW()) AS c1"
    assert read_sql(sql, "duckdb").date_clocks == ("CURRENT_DATE", "DATE_TRUNC('MONTH', NOW())")


def test_adapter_types_map_to_dialects() -> None:
    assert dialect_of("duckdb") == "duckdb"
    assert dialect_of("sqlserver") == "tsql"
    assert dialect_of("some_new_adapter") is None


def quoted(name: str) -> str:
    return f'"{name}"'


@pytest.mark.parametrize(
    ("template", "sql"),
    [
        (
            "{{ config(materialized='table', meta={'a': {'b': [1, (2, 3)]}}) }}\n"
            "select * from {{ ref('a') }} join {{ source('s', 't') }} using (id)",
            f'\nselect * from "{DECLARED}" join "{DECLARED}" using (id)',
        ),
        # Whitespace control and comments as Jinja renders them; versions and packages.
        (
            "select * from {{- ref('pkg', 'a', v=2) -}} {# a note #} where d < current_date",
            f'select * from"{DECLARED}" where d < current_date',
        ),
        ("select 1", "select 1"),
    ],
)
def test_a_template_of_ref_source_and_config_calls_is_read_without_compiling(
    template: str, sql: str
) -> None:
    assert sql_of_template(template, quoted) == sql


@pytest.mark.parametrize(
    "template",
    [
        "{% if is_incremental() %}select 1{% elif x %}select 2{% endif %}",
        "{% if is_incremental(1) %}select 1{% endif %}",
        "{% if is_incremental() and x %}select 1{% endif %}",
        "{% if is_incremental() %}select {{ var('n') }}{% endif %}",
        "{% if x %}select 1{% endif %}",
        "select * from {{ this.schema }}.t",
        "select * from {{ ref(var('name')) }}",
        "select * from {{ ref(*names) }}",
        "select * from {{ ref('a') | lower }}",
        "select * from {{ source('s', 't').identifier }}",
        "{{ config(materialized=var('m')) }} select 1",
        "{% set x = 1 %} select 1",
        "select {{ cents_to_dollars('amount') }} from {{ ref('a') }}",
        "select * from {{ ref('a' }}",
    ],
)
def test_any_other_template_is_compiled(template: str) -> None:
    assert sql_of_template(template, quoted) is None


def test_what_a_template_read_without_compiling_names_is_its_own() -> None:
    sql = sql_of_template(
        "with a as (select * from {{ ref('a') }}) select * from a join raw.t using (id)", quoted
    )
    assert sql is not None
    assert set(read_sql(sql, "duckdb").relations) == {("", "", DECLARED), ("", "raw", "t")}


INCREMENTAL = """\
{{ config(materialized='incremental', unique_key='id') }}
select * from {{ ref('a') }}
{% if is_incremental() %}
where ts > (select max(ts) from {{ this }}) and id in (select id from raw.late)
{% else %}
join raw.first using (id)
{% endif %}
"""


def test_both_sides_of_is_incremental_are_read_as_statements_of_their_own() -> None:
    """Whichever side a build takes, what either side reads is an input: the first build
    takes one side, the next ones the other, and both run with the same definition."""
    sql = sql_of_template(INCREMENTAL, quoted)
    assert sql is not None
    reads = read_sql(sql, "duckdb")
    assert set(reads.relations) == {("", "", DECLARED), ("", "raw", "late"), ("", "raw", "first")}
    negated = INCREMENTAL.replace("if is_incremental()", "if not is_incremental()")
    assert sql_of_template(negated, quoted) == sql
    # One statement per path through the blocks; more than eight are compiled instead.
    block = "{% if is_incremental() %} a {% else %} b {% endif %}"
    assert sql_of_template(f"select 1 {block} {block}", quoted) == "\n;\n".join(
        ["select 1  a   a ", "select 1  a   b ", "select 1  b   a ", "select 1  b   b "]
    )
    assert sql_of_template(f"select 1 {block * 3}", quoted) is not None
    assert sql_of_template(f"select 1 {block * 4}", quoted) is None
