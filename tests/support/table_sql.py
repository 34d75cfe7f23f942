"""The warehouse state table's SQL, rendered per adapter and parsed with sqlglot: the
warehouses, their renderers and the checks the state and claims table tests share."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from tests.support.macro_render import MacroRenderer, Statement

STATE_VAR = "orchestra_state_table"
STATE_TABLE = "orc.state_rows"
COLUMNS = ["state_key", "kind", "last_updated", "item"]
FIXED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@dataclass(frozen=True)
class Warehouse:
    adapter_type: str
    dialect: str  # sqlglot's
    database: str | None  # target.database
    relation: str  # how the relation of 'orc.state_rows' renders
    schema_relation: str  # how the schema the macros create renders
    quoted: bool
    text_type: str

    def __str__(self) -> str:
        return self.adapter_type


WAREHOUSES = [
    Warehouse(
        "postgres",
        "postgres",
        "analytics",
        '"analytics"."orc"."state_rows"',
        '"analytics"."orc"',
        True,
        "text",
    ),
    Warehouse(
        "duckdb", "duckdb", "memory", '"memory"."orc"."state_rows"', '"memory"."orc"', True, "text"
    ),
    Warehouse(
        "snowflake",
        "snowflake",
        "analytics",
        "analytics.orc.state_rows",
        "analytics.orc",
        False,
        "varchar",
    ),
    Warehouse(
        "bigquery",
        "bigquery",
        "my-project",
        "`my-project`.`orc`.`state_rows`",
        "`my-project`.`orc`",
        True,
        "string",
    ),
    Warehouse(
        "databricks",
        "databricks",
        "main",
        "`main`.`orc`.`state_rows`",
        "`main`.`orc`",
        True,
        "string",
    ),
    # dbt-spark has no database; its relations are unquoted `schema.identifier`.
    Warehouse("spark", "spark", None, "orc.state_rows", "orc", False, "string"),
]
BY_TYPE = {warehouse.adapter_type: warehouse for warehouse in WAREHOUSES}

every_warehouse = pytest.mark.parametrize("warehouse", WAREHOUSES, ids=str)

# Values whose escaping differs between the standard rule ('' for ') and the backslash one.
TRICKY_VALUES = [
    "plain",
    "it's",
    "''",
    "back\\slash",
    "ends with a backslash\\",
    "\\'",
    "\\\\",
    "\\n is not a newline",
    '"double" quotes',
    "unicode: é ✓ 日本語 🎉",
    "",
    "50% {x} {{ y }} {% z %}",
    '{"a": "it\'s \\\\ \\"x\\""}',
    json.dumps({"a": 'it\'s \\ "x"'}),
    json.dumps({"line": "one\ntwo\tthree", "é": "ü"}),
    json.dumps({"é": "ü ✓"}, ensure_ascii=False),
]


def renderer_for(warehouse: Warehouse, answers: Any = (), **kwargs: Any) -> MacroRenderer:
    options: dict[str, Any] = {
        "variables": {STATE_VAR: STATE_TABLE},
        "target": {"database": warehouse.database},
        **kwargs,
    }
    return MacroRenderer(warehouse.adapter_type, answers, **options)


def state_relation(renderer: MacroRenderer) -> Any:
    return renderer.call("state_table_relation")


def table_key(warehouse: Warehouse) -> tuple[str | None, str, str]:
    return (warehouse.database, "orc", "state_rows")


def parse_one(sql: str, warehouse: Warehouse, kind: type[exp.Expression]) -> Any:
    """The one statement of `sql`, parsed in the warehouse's dialect, of the given kind."""
    statements = sqlglot.parse(sql, read=warehouse.dialect)
    assert len(statements) == 1, sql
    statement = statements[0]
    # sqlglot falls back to an opaque Command for syntax it does not know.
    assert isinstance(statement, kind), f"{type(statement).__name__} from:\n{sql}"
    return statement


def string_literals(node: exp.Expression) -> list[str]:
    """The values of the string literals under `node`, in the order they are written."""
    return [literal.this for literal in node.find_all(exp.Literal, bfs=False) if literal.is_string]


def inserted_rows(insert: exp.Insert) -> list[list[str]]:
    values = insert.expression
    assert isinstance(values, exp.Values)
    rows = []
    for row in values.expressions:
        assert isinstance(row, exp.Tuple)
        cells = []
        for cell in row.expressions:
            assert isinstance(cell, exp.Literal) and cell.is_string, cell.sql()
            cells.append(cell.this)
        rows.append(cells)
    return rows


def assert_state_table(node: exp.Expression, warehouse: Warehouse) -> None:
    """Every table `node` names is the state table, quoted as the warehouse quotes it."""
    tables = list(node.find_all(exp.Table))
    assert tables
    for found in tables:
        parts = [part for part in (found.catalog, found.db, found.name) if part]
        expected = [part for part in (warehouse.database, "orc", "state_rows") if part]
        assert parts == expected
        identifiers = [found.args.get("catalog"), found.args.get("db"), found.this]
        for identifier in identifiers:
            if identifier is not None:
                assert identifier.quoted is warehouse.quoted, found.sql()


def state_row(index: int) -> list[str]:
    return [
        f"model.p.m{index:03d}",
        "node",
        f"2024-05-06T07:08:09.{index:06d}Z",
        json.dumps({"last_updated": index, "note": 'it\'s \\ "x"'}),
    ]


def statement_kinds(renderer: MacroRenderer) -> list[str]:
    kinds = []
    for event, sql in renderer.warehouse.events:
        kinds.append(event if event != "statement" else sql.split()[0])
    return kinds


def assert_state_statements(statements: list[Statement]) -> None:
    for statement in statements:
        assert statement.name == "orchestra_dbt_state"
        assert statement.auto_begin is True  # inside the transaction the commit ends
