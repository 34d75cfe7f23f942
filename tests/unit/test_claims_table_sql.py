"""The SQL of the claims table (`<table>__claims`, macros/state_table/), per adapter.

The real macro files are rendered as tests/unit/test_state_table_sql.py renders the state
table's (tests/support/macro_render.py), and every statement is parsed with sqlglot in the
warehouse's dialect. `change_claims_board` is checked on the captured statements: one
transaction (an explicit `begin` on PostgreSQL, whose dbt adapter begins none), the board
read (locked on PostgreSQL), written only when `change` returns a board, then committed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlglot import exp

from tests.support.macro_render import MacroRenderer, RenderedMacro, table
from tests.support.table_sql import (
    BY_TYPE,
    TRICKY_VALUES,
    WAREHOUSES,
    Warehouse,
    assert_state_statements,
    every_warehouse,
    parse_one,
    renderer_for,
    statement_kinds,
    string_literals,
)

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

CLAIMS = "state_rows__claims"
BOARD = '{"claims": {}}'


def claims_relation(renderer: MacroRenderer) -> Any:
    return renderer.call("claims_table_relation")


def claims_key(warehouse: Warehouse) -> tuple[str | None, str, str]:
    return (warehouse.database, "orc", CLAIMS)


def assert_claims_table(node: exp.Expression, warehouse: Warehouse) -> None:
    """Every table `node` names is the claims table, quoted as the warehouse quotes it."""
    tables = list(node.find_all(exp.Table))
    assert tables
    for found in tables:
        parts = [part for part in (found.catalog, found.db, found.name) if part]
        assert parts == [part for part in (warehouse.database, "orc", CLAIMS) if part]
        for identifier in (found.args.get("catalog"), found.args.get("db"), found.this):
            if identifier is not None:
                assert identifier.quoted is warehouse.quoted, found.sql()


@every_warehouse
def test_the_claims_table_is_beside_the_state_table(warehouse: Warehouse) -> None:
    relation = claims_relation(renderer_for(warehouse))
    assert str(relation) == warehouse.relation.replace("state_rows", CLAIMS)
    assert (relation.database, relation.schema, relation.identifier) == claims_key(warehouse)


def test_the_claims_table_follows_the_named_state_table() -> None:
    renderer = renderer_for(BY_TYPE["postgres"])
    relation = renderer.call("claims_table_relation", "ops.audit.orc")
    assert str(relation) == '"ops"."audit"."orc__claims"'


@every_warehouse
def test_create_sql_makes_the_table_with_its_empty_board(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("claims_table_create_sql", claims_relation(renderer))

    create = parse_one(sql, warehouse, exp.Create)
    assert create.kind == "TABLE"
    assert create.args.get("exists") is True
    assert_claims_table(create.this, warehouse)
    select = create.expression
    assert isinstance(select, exp.Select)
    (column,) = select.expressions
    assert column.alias == "board"
    cast = column.this
    assert isinstance(cast, exp.Cast)
    assert cast.to.sql(dialect=warehouse.dialect).lower() == warehouse.text_type
    assert string_literals(cast) == [""]
    assert select.args.get("from") is None  # one row, whatever the warehouse


@every_warehouse
def test_select_sql_reads_the_board(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("claims_board_select_sql", claims_relation(renderer))

    select = parse_one(sql, warehouse, exp.Select)
    assert_claims_table(select, warehouse)
    assert [column.name for column in select.expressions] == ["board"]
    assert select.args.get("where") is None
    locks = select.args.get("locks") or []
    # Only PostgreSQL locks the row; DuckDB has no `for update` (its writers conflict).
    assert [lock.args.get("update") for lock in locks] == (
        [True] if warehouse.adapter_type == "postgres" else []
    )


@every_warehouse
@pytest.mark.parametrize("board", [BOARD, *TRICKY_VALUES])
def test_update_sql_writes_the_board_unchanged(warehouse: Warehouse, board: str) -> None:
    renderer = renderer_for(warehouse)
    sql = renderer.call("claims_board_update_sql", claims_relation(renderer), board)

    update = parse_one(sql, warehouse, exp.Update)
    assert_claims_table(update.this, warehouse)
    assert update.args.get("where") is None  # the one row
    (assignment,) = update.expressions
    assert assignment.this.name == "board"
    assert string_literals(assignment) == [board]


@pytest.mark.parametrize(
    ("adapter_type", "begin"),
    [
        (warehouse.adapter_type, None)
        for warehouse in WAREHOUSES
        if warehouse.adapter_type != "postgres"
    ]
    + [("postgres", "begin")],
)
def test_only_postgres_begins_its_transaction_explicitly(
    adapter_type: str, begin: str | None
) -> None:
    renderer = renderer_for(BY_TYPE[adapter_type])
    assert renderer.call("state_transaction_begin_sql") == begin


@pytest.mark.parametrize(
    ("adapter_type", "dispatched"),
    [
        ("postgres", "postgres__claims_board_select_sql"),
        ("duckdb", "default__claims_board_select_sql"),
    ],
)
def test_each_warehouse_reads_the_board_its_way(adapter_type: str, dispatched: str) -> None:
    macro = MacroRenderer(adapter_type).adapter.dispatch("claims_board_select_sql", "orchestra_dbt")
    assert isinstance(macro, RenderedMacro)
    assert macro.name == dispatched


# --- change_claims_board -----------------------------------------------------------------------


def board_answer(*boards: Any) -> Any:
    return table(["board"], *[[board] for board in boards])


def change_renderer(warehouse: Warehouse, *boards: Any) -> MacroRenderer:
    return renderer_for(warehouse, [board_answer(*boards)])


@pytest.mark.parametrize(("adapter_type", "begins"), [("postgres", True), ("duckdb", False)])
def test_change_claims_board_is_one_transaction(adapter_type: str, begins: bool) -> None:
    warehouse = BY_TYPE[adapter_type]
    renderer = change_renderer(warehouse, BOARD)
    seen: list[Any] = []

    def change(rows: list[Any]) -> str:
        seen.append(rows)
        return '{"claims": {"it\'s": {}}}'

    assert not renderer.call("change_claims_board", change=change)

    assert seen == [[BOARD]]
    assert statement_kinds(renderer) == [
        "create_schema",
        "create",
        *(["begin"] if begins else []),
        "select",
        "update",
        "commit",
    ]
    assert renderer.warehouse.events[0] == ("create_schema", warehouse.schema_relation)
    statements = renderer.warehouse.statements
    assert_state_statements(statements)
    relation = claims_relation(renderer)
    assert statements[0].sql == renderer.call("claims_table_create_sql", relation)
    read, written = statements[-2:]
    assert read.fetch_result is True
    assert read.sql == renderer.call("claims_board_select_sql", relation)
    assert written.sql == renderer.call(
        "claims_board_update_sql", relation, '{"claims": {"it\'s": {}}}'
    )
    # dbt's relation cache is told of the table just made.
    assert claims_key(warehouse) in renderer.warehouse.tables


@pytest.mark.parametrize("boards", [[BOARD], [], [None, "x"]])
def test_change_claims_board_writes_nothing_when_change_returns_none(boards: list[Any]) -> None:
    """`change` gets the rows as read (orc checks them): none, or several, reach it too."""
    renderer = change_renderer(BY_TYPE["postgres"], *boards)
    seen: list[Any] = []

    renderer.call("change_claims_board", change=lambda rows: seen.append(rows))

    assert seen == [boards]
    assert statement_kinds(renderer) == ["create_schema", "create", "begin", "select", "commit"]


def test_change_claims_board_uses_the_named_state_table() -> None:
    renderer = change_renderer(BY_TYPE["postgres"], BOARD)
    renderer.call("change_claims_board", state_table="ops.other.t", change=lambda rows: None)
    assert renderer.warehouse.events[0] == ("create_schema", '"ops"."other"')
    assert '"ops"."other"."t__claims"' in renderer.queries[-1]


@every_warehouse
def test_change_claims_board_sql_parses_on_every_warehouse(warehouse: Warehouse) -> None:
    renderer = change_renderer(warehouse, BOARD)
    renderer.call("change_claims_board", change=lambda rows: rows[0])

    kinds = {"create": exp.Create, "select": exp.Select, "update": exp.Update}
    for statement in renderer.warehouse.statements:
        if statement.sql == "begin":
            continue
        parsed = parse_one(statement.sql, warehouse, kinds[statement.sql.split()[0]])
        assert_claims_table(parsed.this if isinstance(parsed, exp.Create) else parsed, warehouse)


@every_warehouse
def test_change_claims_board_runs_nothing_at_parse_time(warehouse: Warehouse) -> None:
    renderer = renderer_for(warehouse, execute=False)
    calls: list[Any] = []
    renderer.call("change_claims_board", change=calls.append)
    assert renderer.warehouse.events == []
    assert calls == []
