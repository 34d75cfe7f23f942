"""The SQL of the warehouse state table (macros/state_table/), per adapter.

The real macro files are rendered with dbt's Jinja environment against a fake context (see
tests/support/macro_render.py), for PostgreSQL, DuckDB, Snowflake, BigQuery, Databricks and its
parent Spark. Every statement is parsed with sqlglot in the warehouse's dialect: it must
parse as one statement of the expected kind, name the table quoted as the warehouse's
relation quotes it, and carry every string value unchanged, as that dialect reads its
literals. The hooks' reading and writing (statement order, chunks, commit) are checked on
the captured statements.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlglot
from dbt_common.exceptions import CompilationError
from sqlglot import exp

from orchestra_dbt_py.core.records import format_timestamp
from tests.support.macro_render import MacroRenderer, RenderedMacro, table
from tests.support.table_sql import (
    BY_TYPE,
    COLUMNS,
    FIXED_TIME,
    STATE_TABLE,
    STATE_VAR,
    TRICKY_VALUES,
    Warehouse,
    assert_state_statements,
    assert_state_table,
    every_warehouse,
    inserted_rows,
    parse_one,
    renderer_for,
    state_relation,
    state_row,
    statement_kinds,
    string_literals,
    table_key,
)

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

# --- state_table_relation ---------------------------------------------------------------


@every_warehouse
def test_relation_is_quoted_as_the_warehouse_quotes(warehouse: Warehouse) -> None:
    relation = state_relation(renderer_for(warehouse))
    assert str(relation) == warehouse.relation


@every_warehouse
def test_schema_dot_table_uses_the_target_database(warehouse: Warehouse) -> None:
    relation = renderer_for(warehouse).call("state_table_relation", "audit.orc_state")
    assert (relation.database, relation.schema, relation.identifier) == (
        warehouse.database,
        "audit",
        "orc_state",
    )
    assert relation.type == "table"


@pytest.mark.parametrize("adapter_type", ["postgres", "snowflake", "bigquery", "databricks"])
def test_database_schema_table_uses_all_three(adapter_type: str) -> None:
    relation = renderer_for(BY_TYPE[adapter_type]).call("state_table_relation", "ops.audit.orc")
    assert (relation.database, relation.schema, relation.identifier) == ("ops", "audit", "orc")


def test_the_var_names_the_table_when_no_argument_does() -> None:
    renderer = renderer_for(BY_TYPE["postgres"], variables={STATE_VAR: "ops.audit.orc"})
    assert str(renderer.call("state_table_relation")) == '"ops"."audit"."orc"'
    assert str(renderer.call("state_table_relation", "s.t")) == '"analytics"."s"."t"'


@pytest.mark.parametrize("variables", [{}, {STATE_VAR: None}, {STATE_VAR: ""}])
def test_no_table_configured_is_an_error_naming_the_var(variables: dict[str, Any]) -> None:
    renderer = renderer_for(BY_TYPE["postgres"], variables=variables)
    with pytest.raises(CompilationError, match=STATE_VAR):
        renderer.call("state_table_relation")


@pytest.mark.parametrize("name", ["a.b.c.d", "state", "a..b", ".b", "a.", "a.b."])
def test_a_name_of_the_wrong_shape_is_an_error(name: str) -> None:
    renderer = renderer_for(BY_TYPE["postgres"])
    with pytest.raises(CompilationError) as raised:
        renderer.call("state_table_relation", name)
    assert f"'{name}' is not '<schema>.<table>'" in str(raised.value)


# --- the statements, per dialect ----------------------------------------------------------


@every_warehouse
def test_create_sql(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_create_sql", state_relation(renderer))

    assert sql.startswith(f"create table if not exists {warehouse.relation} (")
    assert re.findall(r"(\w+) (\w+) not null", sql) == [
        (column, warehouse.text_type) for column in COLUMNS
    ]
    create = parse_one(sql, warehouse, exp.Create)
    assert create.kind == "TABLE"
    assert create.args.get("exists") is True
    assert_state_table(create, warehouse)
    columns = list(create.find_all(exp.ColumnDef))
    assert [column.name for column in columns] == COLUMNS
    for column in columns:
        assert column.find(exp.NotNullColumnConstraint) is not None, column.sql()
        kind = column.args["kind"]
        assert isinstance(kind, exp.DataType)
        assert kind.sql(dialect=warehouse.dialect).lower() == warehouse.text_type


@every_warehouse
def test_insert_sql_keeps_every_value(warehouse: Warehouse) -> None:
    rows = [
        [f"model.p.m{index}", "node", value, value] for index, value in enumerate(TRICKY_VALUES)
    ]
    rows.append(["model.p.last", "observation", "2024-05-06T07:08:09.000000Z", "{}"])
    renderer = renderer_for(warehouse)

    sql = renderer.call("state_table_insert_sql", state_relation(renderer), rows)

    assert sql.startswith(
        f"insert into {warehouse.relation} (state_key, kind, last_updated, item) values\n"
    )
    insert = parse_one(sql, warehouse, exp.Insert)
    assert_state_table(insert, warehouse)
    schema = insert.this
    assert isinstance(schema, exp.Schema)
    assert [column.name for column in schema.expressions] == COLUMNS
    assert inserted_rows(insert) == rows


@every_warehouse
@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_each_value_survives_alone(warehouse: Warehouse, value: str) -> None:
    """One value per statement: a broken literal cannot be masked by its neighbours."""
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_insert_sql", state_relation(renderer), [[value] * 4])
    assert inserted_rows(parse_one(sql, warehouse, exp.Insert)) == [[value] * 4]


@every_warehouse
def test_select_sql_without_keys(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_select_sql", state_relation(renderer), "node")

    select = parse_one(sql, warehouse, exp.Select)
    assert_state_table(select, warehouse)
    assert [column.name for column in select.expressions] == ["state_key", "last_updated", "item"]
    assert select.find(exp.In) is None
    assert string_literals(select) == ["node"]
    order = select.args["order"]
    assert [ordered.this.name for ordered in order.expressions] == [
        "state_key",
        "last_updated",
        "item",
    ]


@every_warehouse
def test_select_sql_with_keys(warehouse: Warehouse) -> None:
    keys = ["model.p.a", *TRICKY_VALUES]
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_select_sql", state_relation(renderer), "observation", keys)

    select = parse_one(sql, warehouse, exp.Select)
    assert_state_table(select, warehouse)
    in_list = select.find(exp.In)
    assert in_list is not None
    assert in_list.this.name == "state_key"
    assert string_literals(in_list) == keys
    assert string_literals(select) == ["observation", *keys]


@every_warehouse
def test_delete_sql_with_keys(warehouse: Warehouse) -> None:
    keys = ["model.p.a", "it's", "back\\slash"]
    before = "2024-05-06T07:08:09.123456Z"
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_delete_sql", state_relation(renderer), "node", keys, before)

    delete = parse_one(sql, warehouse, exp.Delete)
    assert_state_table(delete, warehouse)
    assert string_literals(delete) == ["node", *keys, before]
    in_list = delete.find(exp.In)
    assert in_list is not None and in_list.this.name == "state_key"
    bound = delete.find(exp.LTE)
    assert bound is not None
    assert bound.this.name == "last_updated"
    assert string_literals(bound) == [before]


@every_warehouse
def test_delete_sql_without_keys_deletes_the_whole_kind(warehouse: Warehouse) -> None:
    before = "2024-05-05T07:08:09.000000Z"
    renderer = renderer_for(warehouse)
    sql = renderer.call(
        "state_table_delete_sql", state_relation(renderer), "observation", None, before
    )

    delete = parse_one(sql, warehouse, exp.Delete)
    assert_state_table(delete, warehouse)
    assert delete.find(exp.In) is None
    assert string_literals(delete) == ["observation", before]
    assert delete.find(exp.LTE) is not None


def version_not_in(delete: exp.Delete) -> tuple[exp.Expression, exp.Select]:
    """The `<version> not in (<select>)` of a compaction: its version and its select.

    sqlglot reads `x not in (subquery)` as not(in) in most dialects and as `x <> all(...)`
    in Snowflake's."""
    for node in delete.find_all(exp.In, exp.NEQ):
        if isinstance(node, exp.In) and node.args.get("query") and isinstance(node.parent, exp.Not):
            select = node.args["query"].find(exp.Select)
        elif isinstance(node, exp.NEQ) and isinstance(node.expression, exp.All):
            select = node.expression.find(exp.Select)
        else:
            continue
        assert isinstance(select, exp.Select)
        return node.this, select
    raise AssertionError(f"no `not in (select ...)` in {delete.sql()}")


def version_columns(node: exp.Expression) -> list[str]:
    """`a || b` as [a, b] (`max(a) || b` too); anything else fails."""
    assert isinstance(node, exp.DPipe), node.sql()
    return [column.name for column in node.find_all(exp.Column, bfs=False)]


def key_filter(node: exp.Expression) -> list[str] | None:
    """The keys of the `state_key in (...)` directly in `node`'s where clause, if any."""
    where = node.args.get("where")
    assert where is not None
    for found in where.find_all(exp.In):
        own = found.find_ancestor(exp.Select, exp.Delete) is node
        if own and found.this.name == "state_key" and not found.args.get("query"):
            return string_literals(found)
    return None


@every_warehouse
@pytest.mark.parametrize("keys", [None, ["model.p.a", "it's", "back\\slash"]], ids=["all", "keys"])
def test_compact_sql(warehouse: Warehouse, keys: list[str] | None) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("state_table_compact_sql", state_relation(renderer), keys)

    delete = parse_one(sql, warehouse, exp.Delete)
    assert_state_table(delete, warehouse)
    assert len(list(delete.find_all(exp.Table))) == 2  # the table and its subquery
    version, select = version_not_in(delete)
    # `not in` applies to the version (time || key), not to the key alone.
    assert version_columns(version) == ["last_updated", "state_key"]
    (newest,) = select.expressions
    assert version_columns(newest) == ["last_updated", "state_key"]
    assert isinstance(newest.this, exp.Max)
    group = select.args["group"]
    assert [column.name for column in group.expressions] == ["state_key"]
    # Both the rows deleted and the newest versions are limited to the same keys.
    assert key_filter(delete) == keys
    assert key_filter(select) == keys
    assert string_literals(delete) == ["node", *(keys or []), "node", *(keys or [])]


@every_warehouse
def test_compact_sql_keeps_the_newest_trusted_version(warehouse: Warehouse) -> None:
    """With `trusted_until`, the version kept per key is the newest dated up to it, or the
    newest of all when the key has none (a row from the future alone is kept)."""
    renderer = renderer_for(warehouse)
    until = "2026-11-29T12:05:00.000000Z"
    sql = renderer.call("state_table_compact_sql", state_relation(renderer), ["k"], until)

    delete = parse_one(sql, warehouse, exp.Delete)
    _, select = version_not_in(delete)
    (kept,) = select.expressions
    coalesce = kept.find(exp.Coalesce)
    assert coalesce is not None
    trusted, newest = coalesce.this, coalesce.expressions[0]
    assert isinstance(trusted, exp.Max) and trusted.find(exp.LTE) is not None
    assert isinstance(newest, exp.Max) and newest.find(exp.LTE) is None
    assert until in string_literals(delete)


def test_the_round_trip_check_tells_the_two_escaping_rules_apart() -> None:
    """The literal check above can fail: each rule, read in the other's dialects, breaks."""
    value = "back\\slash and it's"
    for wrong, dialects in [
        ("postgres", ["snowflake", "bigquery", "databricks", "spark"]),
        ("snowflake", ["postgres", "duckdb"]),
    ]:
        renderer = renderer_for(BY_TYPE[wrong])
        sql = renderer.call("state_table_insert_sql", state_relation(renderer), [[value] * 4])
        for dialect in dialects:
            try:
                parsed = sqlglot.parse(sql, read=dialect)
            except sqlglot.errors.SqlglotError:
                continue
            assert isinstance(parsed[0], exp.Expression)
            assert string_literals(parsed[0]) != [value] * 4, (wrong, dialect)


@pytest.mark.parametrize(
    ("adapter_type", "dispatched"),
    [
        ("postgres", "default__state_literal"),
        ("duckdb", "default__state_literal"),
        ("snowflake", "snowflake__state_literal"),
        ("bigquery", "bigquery__state_literal"),
        ("databricks", "databricks__state_literal"),
        ("spark", "spark__state_literal"),
        ("redshift", "redshift__state_literal"),
    ],
)
def test_each_warehouse_gets_its_own_literal_rule(adapter_type: str, dispatched: str) -> None:
    macro = MacroRenderer(adapter_type).adapter.dispatch("state_literal", "orchestra_dbt")
    assert isinstance(macro, RenderedMacro)
    assert macro.name == dispatched


# --- the statements, run on DuckDB --------------------------------------------------------


def test_the_statements_run_on_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    warehouse = BY_TYPE["duckdb"]
    renderer = renderer_for(warehouse)
    relation = state_relation(renderer)
    rows = [
        [f"model.p.m{index}", "node", f"2024-05-06T07:08:{index:02d}.000000Z", value]
        for index, value in enumerate(TRICKY_VALUES)
    ]
    # Two older versions of m0 and one of m1, which compaction drops.
    rows += [
        ["model.p.m0", "node", "2024-05-01T00:00:00.000000Z", "old"],
        ["model.p.m0", "node", "2024-05-02T00:00:00.000000Z", "older is newer"],
        ["model.p.m1", "node", "2024-05-01T00:00:00.000000Z", "old"],
        ["inv-1", "observation", "2024-05-06T00:00:00.000000Z", "{}"],
    ]
    connection = duckdb.connect()
    try:
        connection.execute("create schema orc")
        connection.execute(renderer.call("state_table_create_sql", relation))
        connection.execute(renderer.call("state_table_create_sql", relation))  # if not exists
        connection.execute(renderer.call("state_table_insert_sql", relation, rows))

        selected = connection.execute(
            renderer.call("state_table_select_sql", relation, "node", ["model.p.m0", "it's"])
        ).fetchall()
        assert selected == [
            ("model.p.m0", "2024-05-01T00:00:00.000000Z", "old"),
            ("model.p.m0", "2024-05-02T00:00:00.000000Z", "older is newer"),
            ("model.p.m0", "2024-05-06T07:08:00.000000Z", "plain"),
        ]

        # Compacting other keys leaves m0's and m1's versions alone.
        connection.execute(renderer.call("state_table_compact_sql", relation, ["model.p.m5"]))
        assert len(connection.execute(f"select * from {relation}").fetchall()) == len(rows)
        connection.execute(renderer.call("state_table_compact_sql", relation, ["model.p.m0"]))
        assert len(connection.execute(f"select * from {relation}").fetchall()) == len(rows) - 2
        connection.execute(renderer.call("state_table_compact_sql", relation))
        every_node = connection.execute(
            renderer.call("state_table_select_sql", relation, "node")
        ).fetchall()
        assert sorted(every_node) == sorted(
            (key, moment, item) for key, _, moment, item in rows[: len(TRICKY_VALUES)]
        )

        connection.execute(
            renderer.call(
                "state_table_delete_sql",
                relation,
                "node",
                ["model.p.m2", "model.p.m3"],
                "2024-05-06T07:08:02.000000Z",
            )
        )
        left = {row[0] for row in every_node} - {
            row[0]
            for row in connection.execute(
                renderer.call("state_table_select_sql", relation, "node")
            ).fetchall()
        }
        assert left == {"model.p.m2"}  # m3 was written after the bound: kept

        observations = connection.execute(
            renderer.call("state_table_select_sql", relation, "observation")
        ).fetchall()
        assert observations == [("inv-1", "2024-05-06T00:00:00.000000Z", "{}")]
    finally:
        connection.close()


# --- write_state_rows ------------------------------------------------------------------------


@every_warehouse
def test_write_state_rows_in_one_transaction(warehouse: Warehouse) -> None:
    rows = [state_row(index) for index in range(450)]
    removals = ["model.p.gone", "model.p.it's gone"]
    before = "2024-05-06T08:00:00.000000Z"
    renderer = renderer_for(warehouse)

    result = renderer.call("write_state_rows", rows=rows, removals=removals, removed_before=before)

    assert not result
    assert statement_kinds(renderer) == [
        "create_schema",
        "create",
        *["delete"] * 3,  # the rows the new ones write again (same key and time)
        *["insert"] * 3,
        "delete",  # the removals
        *["delete"] * 3,  # the superseded versions of the keys written
        "commit",
    ]
    assert renderer.warehouse.events[0] == ("create_schema", warehouse.schema_relation)
    statements = renderer.warehouse.statements
    assert_state_statements(statements)
    assert not any(statement.fetch_result for statement in statements)

    create, *writes = statements
    rewrites, writes = writes[:3], writes[3:]
    inserts, (delete,), compacts = writes[:3], writes[3:4], writes[4:]
    relation = state_relation(renderer)
    versions = [row[2] + row[0] for row in rows]
    assert [rewrite.sql for rewrite in rewrites] == [
        renderer.call("state_table_rewrite_sql", relation, versions[start : start + 200])
        for start in (0, 200, 400)
    ]
    assert create.sql == renderer.call("state_table_create_sql", relation)
    chunks = [inserted_rows(parse_one(s.sql, warehouse, exp.Insert)) for s in inserts]
    assert [len(chunk) for chunk in chunks] == [200, 200, 50]
    assert [row for chunk in chunks for row in chunk] == rows
    removal = parse_one(delete.sql, warehouse, exp.Delete)
    assert string_literals(removal) == ["node", *removals, before]
    keys = [row[0] for row in rows]
    assert [compact.sql for compact in compacts] == [
        renderer.call("state_table_compact_sql", relation, keys[start : start + 200])
        for start in (0, 200, 400)
    ]


@pytest.mark.parametrize(
    ("adapter_type", "delta"), [("spark", True), ("databricks", True), ("postgres", False)]
)
def test_spark_state_table_is_delta(adapter_type: str, delta: bool) -> None:
    renderer = renderer_for(BY_TYPE[adapter_type])
    sql = renderer.call("state_table_create_sql", state_relation(renderer))
    assert sql.rstrip().endswith("using delta") is delta


def test_removals_without_a_time_keep_rows_written_later() -> None:
    warehouse = BY_TYPE["postgres"]
    renderer = renderer_for(warehouse)

    renderer.call("write_state_rows", rows=[], removals=["model.p.a"], removed_before=None)

    delete = parse_one(renderer.warehouse.statements[1].sql, warehouse, exp.Delete)
    before = string_literals(delete)[-1]
    assert FIXED_TIME.fullmatch(before), before


def test_write_state_rows_deletes_removals_in_chunks() -> None:
    warehouse = BY_TYPE["postgres"]
    removals = [f"model.p.r{index:03d}" for index in range(201)]
    renderer = renderer_for(warehouse)

    renderer.call("write_state_rows", rows=[], removals=removals, removed_before="T")

    assert statement_kinds(renderer) == ["create_schema", "create", "delete", "delete", "commit"]
    first, second = renderer.warehouse.statements[1:]
    assert string_literals(parse_one(first.sql, warehouse, exp.Delete)) == [
        "node",
        *removals[:200],
        "T",
    ]
    assert string_literals(parse_one(second.sql, warehouse, exp.Delete)) == [
        "node",
        removals[200],
        "T",
    ]


def test_write_state_rows_compacts_each_node_key_written_once() -> None:
    warehouse = BY_TYPE["postgres"]
    rows = [
        ["model.p.b", "node", "2024-05-06T07:00:00.000000Z", "{}"],
        ["model.p.a", "node", "2024-05-06T07:00:01.000000Z", "{}"],
        ["model.p.b", "node", "2024-05-06T07:00:02.000000Z", "{}"],
        ["inv-1", "observation", "2024-05-06T07:00:03.000000Z", "{}"],
    ]
    renderer = renderer_for(warehouse)

    renderer.call("write_state_rows", rows=rows)

    kinds = ["create_schema", "create", "delete", "insert", "delete", "commit"]
    assert statement_kinds(renderer) == kinds
    rewrite = parse_one(renderer.warehouse.statements[1].sql, warehouse, exp.Delete)
    assert string_literals(rewrite) == ["node", *(row[2] + row[0] for row in rows[:3])]
    compact = parse_one(renderer.warehouse.statements[-1].sql, warehouse, exp.Delete)
    assert key_filter(compact) == ["model.p.b", "model.p.a"]


def test_write_state_rows_without_rows_creates_the_table() -> None:
    renderer = renderer_for(BY_TYPE["snowflake"])
    renderer.call("write_state_rows", rows=[], removals=[], removed_before=None)
    assert statement_kinds(renderer) == ["create_schema", "create", "commit"]


def test_write_state_rows_uses_the_named_table_over_the_var() -> None:
    renderer = renderer_for(BY_TYPE["postgres"])
    renderer.call("write_state_rows", state_table="ops.other.t", rows=[state_row(1)])
    assert renderer.warehouse.events[0] == ("create_schema", '"ops"."other"')
    assert all('"ops"."other"."t"' in sql for sql in renderer.queries)


@every_warehouse
def test_write_state_rows_runs_nothing_at_parse_time(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse, execute=False)
    renderer.call("write_state_rows", rows=[state_row(1)], removals=["x"], removed_before="T")
    assert renderer.warehouse.events == []


# --- read_state_rows -----------------------------------------------------------------------


@every_warehouse
def test_read_without_the_table_is_none_and_creates_nothing(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse)
    assert renderer.call("read_state_rows") is None
    assert renderer.call("read_state_rows", kind="observation", keys=["x"]) is None
    assert renderer.warehouse.events == []
    assert renderer.warehouse.lookups == [table_key(warehouse)] * 2


@every_warehouse
def test_read_of_no_keys_is_empty_without_a_query(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse, tables=[table_key(warehouse)])
    assert renderer.call("read_state_rows", keys=[]) == []
    assert renderer.warehouse.events == []


@every_warehouse
def test_read_returns_the_rows_as_lists(warehouse: Warehouse) -> None:
    answer = table(
        ["state_key", "last_updated", "item"],
        ["model.p.a", "2024-05-06T07:08:09.000000Z", '{"a": 1}'],
        ["model.p.b", "2024-05-06T07:08:10.000000Z", '{"b": "it\'s"}'],
    )
    renderer = renderer_for(warehouse, [answer], tables=[table_key(warehouse)])

    rows = renderer.call("read_state_rows")

    assert rows == [
        ["model.p.a", "2024-05-06T07:08:09.000000Z", '{"a": 1}'],
        ["model.p.b", "2024-05-06T07:08:10.000000Z", '{"b": "it\'s"}'],
    ]
    assert all(type(row) is list for row in rows)
    (statement,) = renderer.warehouse.statements
    assert_state_statements([statement])
    assert statement.fetch_result is True
    assert statement.sql == renderer.call(
        "state_table_select_sql", state_relation(renderer), "node"
    )
    assert renderer.warehouse.events == [("statement", statement.sql)]  # no commit


def test_read_of_keys_selects_those_keys_of_the_kind() -> None:
    warehouse = BY_TYPE["bigquery"]
    answer = table(["state_key", "last_updated", "item"])
    renderer = renderer_for(warehouse, [answer], tables=[table_key(warehouse)])

    assert renderer.call("read_state_rows", kind="observation", keys=["inv'1", "inv\\2"]) == []

    (statement,) = renderer.warehouse.statements
    select = parse_one(statement.sql, warehouse, exp.Select)
    assert string_literals(select) == ["observation", "inv'1", "inv\\2"]


def test_read_at_parse_time_is_empty_without_a_lookup() -> None:
    renderer = renderer_for(BY_TYPE["postgres"], execute=False)
    assert renderer.call("read_state_rows") == []
    assert renderer.warehouse.lookups == []
    assert renderer.warehouse.events == []


# --- record_run --------------------------------------------------------------------------------

PROJECT = "proj"
INVOCATION = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ORDERS = "source.proj.raw.orders"
CUSTOMERS = "source.proj.raw.customers"
PAYMENTS = "source.proj.raw.payments"
BASE = "model.proj.base"
BASE_VIEW = "model.proj.base_view"
FINAL = "model.proj.final"
DIM = "model.proj.dim"
BROKEN = "model.proj.broken"
NOT_NULL = "test.proj.not_null_final_id"
ORDERS_SEEN = "2024-05-06T06:00:00Z"
ORDERS_VERSION = {"loaded_at": ORDERS_SEEN, "row_count": "3", "xmin_digest": "-41"}
PAYMENTS_VERSION = {"row_count": "7"}  # no loaded_at: unmeasured for dbt-orchestra's `sources`
DIM_BUILT = "2024-05-01T00:00:00.000000Z"


def graph_node(
    unique_id: str,
    materialized: str,
    parents: list[str],
    resource_type: str = "model",
) -> dict[str, Any]:
    name = unique_id.rsplit(".", 1)[-1]
    return {
        "unique_id": unique_id,
        "resource_type": resource_type,
        "package_name": PROJECT,
        "name": name,
        "alias": name,
        "database": "analytics",
        "schema": "marts",
        "relation_name": None if resource_type == "test" else f'"analytics"."marts"."{name}"',
        "raw_code": f"select * from {{{{ ref('x') }}}} -- {name}",
        "language": "sql",
        "checksum": {"name": "sha256", "checksum": f"sum-{name}"},
        "config": {"materialized": materialized, "enabled": True},
        "depends_on": {"nodes": parents, "macros": []},
        "description": "",
        "columns": {},
    }


def source_node(unique_id: str) -> dict[str, Any]:
    name = unique_id.rsplit(".", 1)[-1]
    return {
        "unique_id": unique_id,
        "resource_type": "source",
        "package_name": PROJECT,
        "source_name": "raw",
        "name": name,
        "identifier": name,
        "database": "analytics",
        "schema": "raw",
        "relation_name": f'"analytics"."raw"."{name}"',
        "loaded_at_field": None,
        "freshness": None,
        "meta": {},
        "external": None,
    }


GRAPH: dict[str, Any] = {
    "nodes": {
        BASE: graph_node(BASE, "table", [ORDERS]),
        BASE_VIEW: graph_node(BASE_VIEW, "view", [BASE]),
        DIM: graph_node(DIM, "table", [PAYMENTS]),
        FINAL: graph_node(FINAL, "table", [BASE_VIEW, CUSTOMERS, DIM, PAYMENTS]),
        BROKEN: graph_node(BROKEN, "table", [BASE]),
        NOT_NULL: graph_node(NOT_NULL, "test", [FINAL], resource_type="test"),
    },
    "sources": {unique_id: source_node(unique_id) for unique_id in (ORDERS, CUSTOMERS, PAYMENTS)},
}


@dataclass(frozen=True)
class FakeNodeRef:
    unique_id: str


@dataclass(frozen=True)
class FakeTiming:
    name: str
    started_at: dt.datetime
    completed_at: dt.datetime


@dataclass(frozen=True)
class FakeRunResult:
    """The parts of dbt's RunResult that record_run reads."""

    node: FakeNodeRef
    status: str
    timing: list[FakeTiming] = field(default_factory=list)
    execution_time: float = 1.5


def run_result(unique_id: str, status: str, completed_at: dt.datetime | None) -> FakeRunResult:
    timing = []
    if completed_at is not None:
        started = completed_at - dt.timedelta(seconds=3)
        timing = [
            FakeTiming("compile", started, started),
            FakeTiming("execute", started, completed_at),
        ]
    return FakeRunResult(FakeNodeRef(unique_id), status, timing)


PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
RESULTS = [
    # Naive datetimes from dbt are UTC; aware ones are converted.
    run_result(BASE, "success", dt.datetime(2024, 5, 6, 9, 0, 0, tzinfo=PLUS_TWO)),
    run_result(BASE_VIEW, "success", dt.datetime(2024, 5, 6, 7, 1, 0, 250000)),
    run_result(FINAL, "success", dt.datetime(2024, 5, 6, 7, 2, 0, tzinfo=dt.UTC)),
    run_result(BROKEN, "error", None),
    run_result(NOT_NULL, "fail", dt.datetime(2024, 5, 6, 7, 3, 0, tzinfo=dt.UTC)),
]
COMPLETED = {
    BASE: "2024-05-06T07:00:00.000000Z",
    BASE_VIEW: "2024-05-06T07:01:00.250000Z",
    FINAL: "2024-05-06T07:02:00.000000Z",
    NOT_NULL: "2024-05-06T07:03:00.000000Z",
}


def observation_answer(observed: dict[str, dict[str, str]]) -> Any:
    return table(
        ["state_key", "last_updated", "item"],
        [INVOCATION, "2024-05-06T05:00:00.000000Z", json.dumps({ORDERS: "stale"})],
        [INVOCATION, "2024-05-06T05:59:00.000000Z", json.dumps(observed)],
    )


def state_key(unique_id: str) -> str:
    """A node's key in the default target (postgres: "analytics"."dbt_dev")."""
    relation = GRAPH["nodes"][unique_id]["relation_name"] or '"analytics"."dbt_dev"'
    return f"{unique_id}@{relation}"


def dim_answer() -> Any:
    return table(
        ["state_key", "last_updated", "item"],
        [state_key(DIM), DIM_BUILT, json.dumps({"last_updated": DIM_BUILT})],
    )


@dataclass
class DataVersionsStub:
    """Stands in for `orchestra_dbt.data_versions` (tested on its own): answers every call
    with `answer` (keyed by rendered relation; anything else is returned as it is) and logs
    the call among the warehouse's events, so tests see when and how often it is asked."""

    renderer: MacroRenderer
    answer: Any
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, relations: list[Any]) -> Any:
        rendered = [relation.render() for relation in relations]
        self.calls.append(rendered)
        self.renderer.warehouse.events.append(("data_versions", ", ".join(rendered)))
        if not isinstance(self.answer, dict):
            return self.answer
        return {key: dict(value) for key, value in self.answer.items() if key in rendered}


def stub_data_versions(renderer: MacroRenderer, answer: Any) -> DataVersionsStub:
    stub = DataVersionsStub(renderer, answer)
    renderer.namespaces["orchestra_dbt"]["data_versions"] = stub
    return stub


def relation_of(node: str) -> str:
    return f'"analytics"."marts"."{node.rsplit(".", 1)[-1]}"'


# What data_versions reports of the tables the run built (final: nothing).
TABLE_VERSIONS: dict[str, dict[str, Any]] = {
    relation_of(BASE): {"row_count": 3, "xmin_digest": "77", "absent": None},
    relation_of(FINAL): {},
}


def record_renderer(
    answers: list[Any], table_versions: Any = TABLE_VERSIONS, **kwargs: Any
) -> MacroRenderer:
    warehouse = BY_TYPE["postgres"]
    options: dict[str, Any] = {
        "tables": [table_key(warehouse)],
        "graph": GRAPH,
        "invocation_id": INVOCATION,
        "project_name": PROJECT,
        **kwargs,
    }
    renderer = renderer_for(warehouse, answers, **options)
    stub_data_versions(renderer, table_versions)
    return renderer


def data_versions_calls(renderer: MacroRenderer) -> list[list[str]]:
    stub = renderer.namespaces["orchestra_dbt"]["data_versions"]
    assert isinstance(stub, DataVersionsStub)
    return stub.calls


def written_items(renderer: MacroRenderer) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """The full records written, by unique id, after checking that each is under its key,
    stamped with the target, and followed by its slim mirror under the unique id (with an
    account: by their keys, which have no mirror)."""
    (insert,) = [s for s in renderer.warehouse.statements if s.sql.startswith("insert")]
    rows = inserted_rows(parse_one(insert.sql, BY_TYPE["postgres"], exp.Insert))
    if not any("@" in row[0] for row in rows):
        written = {key: (kind, moment, json.loads(item)) for key, kind, moment, item in rows}
        assert all(item.pop("target") == "dev" for _, _, item in written.values())
        return written
    full = {key: (kind, moment, json.loads(item)) for key, kind, moment, item in rows[::2]}
    mirrors = {key: (kind, moment, json.loads(item)) for key, kind, moment, item in rows[1::2]}
    found = {key.partition("@")[0]: row for key, row in full.items()}
    assert list(full) == [state_key(uid) for uid in found]
    assert list(mirrors) == list(found)
    for uid, (kind, moment, item) in found.items():
        assert item.pop("target") == "dev"
        slim = {name: item[name] for name in ("last_updated", "checksum", "sources", "relation")}
        assert mirrors[uid] == (kind, moment, {**slim, "target": "dev"})
    return found


def test_record_run_writes_what_the_run_built() -> None:
    renderer = record_renderer(
        [
            observation_answer({ORDERS: ORDERS_VERSION, PAYMENTS: PAYMENTS_VERSION, CUSTOMERS: {}}),
            dim_answer(),
        ]
    )

    assert renderer.call("record_run", RESULTS) == ""

    items = written_items(renderer)
    assert list(items) == [BASE, BASE_VIEW, FINAL, NOT_NULL, BROKEN]
    # The failed model leaves only its outcome, which nothing reuses (no fingerprint,
    # checksum or version), dated now (dbt gave it no timing).
    kind, moment, broken = items.pop(BROKEN)
    assert kind == "node" and FIXED_TIME.fullmatch(moment)
    assert broken == {
        "last_updated": moment,
        "checksum": "",
        "sources": {},
        "relation": GRAPH["nodes"][BROKEN]["relation_name"],
        "status": "error",
        "execution_time": 1.5,
        "recorded_by": "orchestra_dbt.record_run",
    }
    for key, (kind, moment, item) in items.items():
        assert kind == "node"
        assert moment == COMPLETED[key] == item["last_updated"]
        assert item["recorded_by"] == "orchestra_dbt.record_run"
        assert re.fullmatch(r"hook1:[0-9a-f]{32}", item["fingerprint"]), item["fingerprint"]
        assert item["checksum"] == f"sum-{key.rsplit('.', 1)[-1]}"
        assert item["execution_time"] == 1.5
        assert item["relation"] == GRAPH["nodes"][key]["relation_name"]

    base = items[BASE][2]
    assert base["status"] == "success"
    assert base["sources"] == {ORDERS: ORDERS_SEEN}  # the newest observation row
    assert base["data_versions"] == {ORDERS: ORDERS_VERSION}
    assert base["upstream"] == {}
    assert "unmeasured_sources" not in base
    # Its table as measured after the run, as text, without the fields reported empty.
    assert base["version"] == {"row_count": "3", "xmin_digest": "77"}

    view = items[BASE_VIEW][2]
    assert view["upstream"] == {BASE: items[BASE][1]}
    assert "version" not in view  # a view holds no data of its own

    final = items[FINAL][2]
    # Through the view to the table it reads; dim was not built: its time is the table's.
    assert final["upstream"] == {
        BASE_VIEW: items[BASE_VIEW][1],
        BASE: items[BASE][1],
        DIM: DIM_BUILT,
    }
    # customers could not be measured at all; payments has a version but no loaded_at.
    assert final["sources"] == {}
    assert final["unmeasured_sources"] == [CUSTOMERS, PAYMENTS]
    assert final["data_versions"] == {PAYMENTS: PAYMENTS_VERSION}
    assert final["version"] == {}  # the warehouse reported nothing of its table

    test_item = items[NOT_NULL][2]
    assert test_item["status"] == "fail"
    assert test_item["upstream"] == {FINAL: items[FINAL][1]}
    assert test_item["relation"] is None
    assert "version" not in test_item

    # One call, for the tables the run built (not the view, the test or the failed model).
    assert data_versions_calls(renderer) == [[relation_of(BASE), relation_of(FINAL)]]


@pytest.mark.parametrize("answer", [None, "", ["not", "a", "mapping"]])
def test_record_run_without_table_versions_leaves_version_out(answer: Any) -> None:
    """data_versions gave no answer: the tables are recorded without a version, which
    `orc` rebuilds; everything else is recorded as usual."""
    renderer = record_renderer(
        [observation_answer({ORDERS: ORDERS_VERSION}), dim_answer()], table_versions=answer
    )

    renderer.call("record_run", RESULTS)

    items = written_items(renderer)
    assert list(items) == [BASE, BASE_VIEW, FINAL, NOT_NULL, BROKEN]
    assert all("version" not in item for _, _, item in items.values())
    assert items[BASE][2]["data_versions"] == {ORDERS: ORDERS_VERSION}


def test_record_run_statements() -> None:
    renderer = record_renderer([observation_answer({ORDERS: ORDERS_VERSION}), dim_answer()])

    renderer.call("record_run", RESULTS)

    assert statement_kinds(renderer) == [
        "select",  # this run's observation
        "data_versions",  # the tables the run built, in one call
        "select",  # the nodes read but not built: dim
        "create_schema",
        "create",
        "delete",  # rows these write again (same key and time)
        "insert",  # the failed node's row among them
        "delete",  # superseded rows
        "commit",
        "delete",  # this run's observation
        "delete",  # observations over a day old
        "commit",
    ]
    statements = renderer.warehouse.statements
    assert_state_statements(statements)
    warehouse = BY_TYPE["postgres"]
    observation = parse_one(statements[0].sql, warehouse, exp.Select)
    assert string_literals(observation) == ["observation", INVOCATION]
    known = parse_one(statements[1].sql, warehouse, exp.Select)
    assert string_literals(known) == ["node", state_key(DIM)]

    used = string_literals(parse_one(statements[6].sql, warehouse, exp.Delete))
    assert used[:2] == ["observation", INVOCATION]
    now = used[2]
    assert FIXED_TIME.fullmatch(now)
    assert written_items(renderer)[BROKEN][1] == now
    stale = string_literals(parse_one(statements[7].sql, warehouse, exp.Delete))
    assert stale[0] == "observation" and len(stale) == 2
    day_ago = stale[1]
    assert FIXED_TIME.fullmatch(day_ago)
    moment = dt.datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert moment - dt.datetime.strptime(day_ago, "%Y-%m-%dT%H:%M:%S.%fZ") == pytest.approx(
        dt.timedelta(days=1), abs=dt.timedelta(seconds=5)
    )


def test_record_run_on_the_first_run_creates_the_table() -> None:
    """No table yet: nothing observed (every source unmeasured), no upstream from it."""
    renderer = record_renderer([], tables=[])

    renderer.call("record_run", RESULTS)

    items = written_items(renderer)
    assert items[BASE][2]["sources"] == {}
    assert items[BASE][2]["data_versions"] == {}
    assert items[BASE][2]["unmeasured_sources"] == [ORDERS]
    assert items[BASE][2]["version"] == {"row_count": "3", "xmin_digest": "77"}
    assert DIM not in items[FINAL][2]["upstream"]
    assert statement_kinds(renderer)[:3] == ["data_versions", "create_schema", "create"]


def test_record_run_keys_carry_the_account() -> None:
    renderer = record_renderer(
        [observation_answer({}), table(["state_key", "last_updated", "item"])],
        variables={STATE_VAR: STATE_TABLE, "orchestra_integration_account_id": "acct-1"},
    )

    renderer.call("record_run", RESULTS)

    known = parse_one(renderer.warehouse.statements[1].sql, BY_TYPE["postgres"], exp.Select)
    assert string_literals(known) == ["node", 'acct-1."analytics"."marts"."dim"']
    assert list(written_items(renderer)) == [
        'acct-1."analytics"."marts"."base"',
        'acct-1."analytics"."marts"."base_view"',
        'acct-1."analytics"."marts"."final"',
        f"acct-1.{NOT_NULL}",  # a test has no relation: its unique id
        'acct-1."analytics"."marts"."broken"',
    ]


@every_warehouse
def test_record_run_sql_parses_on_every_warehouse(warehouse: Warehouse) -> None:
    answers = [observation_answer({ORDERS: ORDERS_VERSION}), dim_answer()]
    renderer = renderer_for(
        warehouse,
        answers,
        tables=[table_key(warehouse)],
        graph=GRAPH,
        invocation_id=INVOCATION,
        project_name=PROJECT,
    )
    stub_data_versions(renderer, {})

    renderer.call("record_run", RESULTS)

    kinds = {"select": exp.Select, "create": exp.Create, "insert": exp.Insert, "delete": exp.Delete}
    for statement in renderer.warehouse.statements:
        parsed = parse_one(statement.sql, warehouse, kinds[statement.sql.split()[0]])
        assert_state_table(parsed, warehouse)


def test_record_run_does_nothing_at_parse_time() -> None:
    renderer = record_renderer([], execute=False, variables={})
    assert renderer.call("record_run", RESULTS) == ""
    assert renderer.warehouse.events == []
    assert renderer.warehouse.lookups == []
    assert data_versions_calls(renderer) == []


def test_record_run_does_nothing_inside_a_run_orc_drives() -> None:
    renderer = record_renderer([], env_vars={"ORCHESTRA_DBT_RECORDER": "orc"})
    assert renderer.call("record_run", RESULTS) == ""
    assert renderer.warehouse.events == []
    assert renderer.warehouse.lookups == []
    assert data_versions_calls(renderer) == []


@pytest.mark.parametrize(
    "invocation_args",
    [{"empty": True}, {"sample": "3 days"}, {"event_time_start": "2024-05-01"}],
)
def test_record_run_of_partial_data_forgets_everything_built(
    invocation_args: dict[str, Any],
) -> None:
    renderer = record_renderer(
        [observation_answer({ORDERS: ORDERS_VERSION})], invocation_args=invocation_args
    )

    renderer.call("record_run", RESULTS)

    assert statement_kinds(renderer) == [
        "select",  # this run's observation
        "create_schema",
        "create",
        "delete",  # every node the run built or tested, and the failed one
        "commit",
        "delete",
        "delete",
        "commit",
    ]
    removal = parse_one(renderer.warehouse.statements[2].sql, BY_TYPE["postgres"], exp.Delete)
    removed = [BASE, BASE_VIEW, FINAL, BROKEN, NOT_NULL]
    assert key_filter(removal) == [key for uid in removed for key in (state_key(uid), uid)]
    assert data_versions_calls(renderer) == []  # nothing is recorded: nothing measured


# --- observe_sources ---------------------------------------------------------------------------


def observe_graph() -> dict[str, Any]:
    sources = dict(GRAPH["sources"])
    sources[CUSTOMERS] = {**sources[CUSTOMERS], "loaded_at_field": "_loaded_at"}
    return {"nodes": GRAPH["nodes"], "sources": sources}


def observe_renderer(answers: list[Any], graph: dict[str, Any], versions: Any) -> MacroRenderer:
    """final selected: it reads customers and payments itself, orders only through the table
    base. customers exists and has a loaded_at_field; payments does not exist."""
    warehouse = BY_TYPE["postgres"]
    renderer = renderer_for(
        warehouse,
        answers,
        tables=[table_key(warehouse), ("analytics", "raw", "customers")],
        graph=graph,
        selected_resources=[FINAL],
        invocation_id=INVOCATION,
        project_name=PROJECT,
    )
    stub_data_versions(renderer, versions)
    return renderer


def observed_item(renderer: MacroRenderer) -> dict[str, Any]:
    insert = next(s for s in renderer.warehouse.statements if s.sql.startswith("insert"))
    (row,) = inserted_rows(parse_one(insert.sql, BY_TYPE["postgres"], exp.Insert))
    assert row[:2] == [INVOCATION, "observation"]
    assert FIXED_TIME.fullmatch(row[2])
    item: dict[str, Any] = json.loads(row[3])
    return item


CUSTOMERS_RELATION = '"analytics"."raw"."customers"'


def test_observe_sources_records_what_the_selected_nodes_read() -> None:
    loaded = dt.datetime(2024, 5, 6, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    renderer = observe_renderer(
        [table(["max_loaded_at", "snapshotted_at"], [loaded, None])],
        observe_graph(),
        {CUSTOMERS_RELATION: {"row_count": 2, "xmin_digest": "9", "loaded_at": "reported"}},
    )

    assert renderer.call("observe_sources") == ""

    assert renderer.warehouse.lookups == [
        ("analytics", "raw", "customers"),
        ("analytics", "raw", "payments"),
        ("analytics", "orc", "state_rows"),  # after creating it, dbt's cache is told of it
    ]
    assert ("analytics", "orc", "state_rows") in renderer.warehouse.tables
    # The freshness query, then one data_versions call for every source that exists.
    assert statement_kinds(renderer) == [
        "select",
        "data_versions",
        "create_schema",
        "create",
        "insert",
        "commit",
    ]
    assert CUSTOMERS_RELATION in renderer.queries[0]
    assert data_versions_calls(renderer) == [[CUSTOMERS_RELATION]]
    # Each source's version: its loaded_at (UTC, as orc formats it; the one measured wins
    # over a field of that name) and what the warehouse reports, as text.
    assert observed_item(renderer) == {
        CUSTOMERS: {"loaded_at": "2024-05-06T07:30:00Z", "row_count": "2", "xmin_digest": "9"},
        PAYMENTS: {},
    }


def test_observe_sources_skips_sources_that_opt_out_of_data_versions() -> None:
    graph = observe_graph()
    opted_out = {"orchestra_dbt": {"data_version": False}}
    graph["sources"][CUSTOMERS] = {**graph["sources"][CUSTOMERS], "meta": opted_out}
    loaded = dt.datetime(2024, 5, 6, 8, 30, 0, 120)
    renderer = observe_renderer(
        [table(["max_loaded_at", "snapshotted_at"], [loaded, None])], graph, {}
    )

    renderer.call("observe_sources")

    assert data_versions_calls(renderer) == []  # no source left to ask
    assert "data_versions" not in statement_kinds(renderer)
    assert observed_item(renderer) == {
        CUSTOMERS: {"loaded_at": "2024-05-06T08:30:00.000120Z"},
        PAYMENTS: {},
    }


def test_observe_sources_without_an_answer_keeps_loaded_at() -> None:
    renderer = observe_renderer(
        [table(["max_loaded_at", "snapshotted_at"], [dt.datetime(2024, 5, 6, 8, 30), None])],
        observe_graph(),
        None,
    )

    renderer.call("observe_sources")

    assert observed_item(renderer) == {
        CUSTOMERS: {"loaded_at": "2024-05-06T08:30:00Z"},
        PAYMENTS: {},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09Z"),
        (dt.datetime(2024, 5, 6, 7, 8, 9, 5), "2024-05-06T07:08:09.000005Z"),
        (dt.datetime(2024, 5, 6, 9, 8, 9, tzinfo=PLUS_TWO), "2024-05-06T07:08:09Z"),
        ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09Z"),
        ("2024-05-06 07:08:09.250", "2024-05-06T07:08:09.250000Z"),
        ("2024-05-06T09:08:09.123456789+02:00", "2024-05-06T07:08:09.123456Z"),
        ("2024-05-06T09:08+0200", "2024-05-06T07:08:00Z"),
        ("not a time", None),
        ("2024-05-06", None),
        (dt.date(2024, 5, 6), None),
        (None, None),
        ("", None),
    ],
)
def test_loaded_at_text_is_what_orc_writes(value: Any, expected: str | None) -> None:
    renderer = renderer_for(BY_TYPE["postgres"])
    assert renderer.call("_loaded_at_text", value) == expected
    if isinstance(value, dt.datetime):
        assert expected == format_timestamp(value)


@pytest.mark.parametrize(
    ("execute", "env_vars"), [(False, {}), (True, {"ORCHESTRA_DBT_RECORDER": "orc"})]
)
def test_observe_sources_does_nothing_at_parse_time_or_inside_orc(
    execute: bool, env_vars: dict[str, str]
) -> None:
    renderer = renderer_for(
        BY_TYPE["postgres"], execute=execute, env_vars=env_vars, graph=observe_graph()
    )
    assert renderer.call("observe_sources") == ""
    assert renderer.warehouse.events == []
    assert renderer.warehouse.lookups == []
