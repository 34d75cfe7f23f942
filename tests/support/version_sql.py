"""What the tests of the data_versions macros share: the columns of each warehouse's
canned answers, the catalog rows PostgreSQL answers with, and sqlglot helpers that read
the rendered queries back."""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

PG_CATALOG = [
    "relation_position",
    "definition_digest",
    "stored_name",
    "stored_schema",
    "stored_table",
    "table_oid",
    "relfilenode",
    "columns_digest",
]
PG_DIGEST = ["relation_position", "row_count", "xmin_digest"]
DUCK_CATALOG = ["relation_position", "columns_digest", "definition_digest"]
DUCK_DIGEST = ["relation_position", "row_count", "content_digest"]
SNOWFLAKE = ["TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE", "LAST_ALTERED", "ROW_COUNT", "BYTES"]
SNOWFLAKE_REFERENCES = [
    "DATABASE_NAME",
    "SCHEMA_NAME",
    "OBJECT_NAME",
    "REFERENCED_DATABASE_NAME",
    "REFERENCED_SCHEMA_NAME",
    "REFERENCED_OBJECT_NAME",
    "REFERENCED_OBJECT_TYPE",
]


def parse_one(sql: str, dialect: str) -> exp.Expression:
    statements = sqlglot.parse(sql, read=dialect)
    assert len(statements) == 1, sql
    statement = statements[0]
    assert statement is not None
    # sqlglot falls back to an opaque Command for syntax it does not know.
    assert isinstance(statement, (exp.Select, exp.Union)), f"{type(statement).__name__}:\n{sql}"
    return statement


def string_literals(node: exp.Expression) -> list[str]:
    return [literal.this for literal in node.find_all(exp.Literal) if literal.is_string]


def table_names(node: exp.Expression) -> list[tuple[str, ...]]:
    """(catalog, db, name) of every table a query reads (sqlglot's unquoted names)."""
    return [
        tuple(part for part in (found.catalog, found.db, found.name) if part)
        for found in node.find_all(exp.Table, bfs=False)
        if found.name
    ]


def selects(node: exp.Expression) -> list[exp.Select]:
    """The branches of a `union all`, or the query itself."""
    if isinstance(node, exp.Union):
        return [*selects(node.left), *selects(node.right)]
    assert isinstance(node, exp.Select)
    return [node]


def pg_stored(
    position: int,
    schema: str,
    name: str,
    oid: str,
    definition: str | None = None,
) -> list[Any]:
    """A row of the PostgreSQL catalog query: a relation (position) and one relation its
    data is stored in (the relation itself for a table)."""
    return [
        position,
        definition,
        f"{schema}.{name}",
        schema,
        name,
        oid,
        f"{int(oid) + 3616}",
        f"md5-{oid}",
    ]
