"""What a compiled model's SQL reads beyond what dbt knows: the relations it names, the table
functions it calls, and the clock. Pure: text in, plain data out (sqlglot, no dbt, no I/O).

Names are compared as the warehouse resolves them: `names_match` and `table_name` fold each
part by the dialect's case rule (quoted parts keep their case where the dialect says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot
from jinja2 import Environment, TemplateSyntaxError, nodes
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

__all__ = [
    "DECLARED",
    "SqlReads",
    "UnreadableSql",
    "clock_query",
    "dialect_of",
    "read_sql",
    "relation_parts",
    "sql_of_template",
    "sqlglot_message",
    "table_name",
]

# The name that stands for every ref and source call in SQL read without compiling it
# (`sql_of_template`): what those calls read is declared, so it is dropped from the reads.
DECLARED = "__orc_declared__"
_TEMPLATES = Environment()
# More SQL variants than this (`is_incremental()` blocks, two sides each): compile instead.
_MAX_VARIANTS = 8

# dbt adapter types whose SQL dialect sqlglot knows under another name.
_DIALECTS = {
    "sqlserver": "tsql",
    "fabric": "tsql",
    "synapse": "tsql",
    "materialize": "postgres",
    "spark": "spark",
    "glue": "spark",
}
_KNOWN_DIALECTS = frozenset(
    {
        "athena",
        "bigquery",
        "clickhouse",
        "databricks",
        "doris",
        "drill",
        "duckdb",
        "hive",
        "mysql",
        "oracle",
        "postgres",
        "presto",
        "redshift",
        "risingwave",
        "snowflake",
        "spark",
        "sqlite",
        "starrocks",
        "teradata",
        "trino",
        "tsql",
    }
)


def _classes(names: str) -> tuple[type, ...]:
    """sqlglot's expression classes of these names (older releases lack some)."""
    return tuple(getattr(exp, name) for name in names.split() if hasattr(exp, name))


# The clock below a day: its value differs between any two runs.
_SUB_DAY_CLOCKS = _classes(
    "CurrentTimestamp CurrentDatetime CurrentTime CurrentTimestampLTZ Localtime "
    "Localtimestamp Systimestamp UtcTime UtcTimestamp"
)
_SUB_DAY_FUNCTIONS = frozenset(
    {
        "NOW",
        "GET_CURRENT_TIMESTAMP",
        "TRANSACTION_TIMESTAMP",
        "STATEMENT_TIMESTAMP",
        "CLOCK_TIMESTAMP",
        "TIMEOFDAY",
        "SYSDATE",
        "SYSTIMESTAMP",
        "GETDATE",
        "GETUTCDATE",
        "SYSDATETIME",
        "SYSUTCDATETIME",
        "SYSDATETIMEOFFSET",
        "CURRENT_TIMESTAMP",
        "LOCALTIMESTAMP",
        "CURRENT_DATETIME",
        "UTC_TIMESTAMP",
        "UNIX_TIMESTAMP",
    }
)
# The clock at day grain: its value changes once a day.
_DATE_CLOCKS = _classes("CurrentDate UtcDate")
_DATE_FUNCTIONS = frozenset({"TODAY", "CURDATE", "CURRENT_DATE", "UTC_DATE"})
# Functions that make a date of a timestamp, and truncation units of a day or coarser.
_TO_DATE = _classes("Date TsOrDsToDate DateTrunc")
_DAY_OR_COARSER = frozenset(
    {"DAY", "DD", "D", "DATE", "WEEK", "WK", "ISOWEEK", "MONTH", "MM", "MON", "QUARTER", "Q"}
    | {"YEAR", "YYYY", "YY", "Y", "ISOYEAR", "DECADE", "CENTURY", "MILLENNIUM"}
)
# Table functions that compute rows from their arguments and read nothing.
_PURE_TABLE_FUNCTIONS = frozenset(
    {
        "GENERATE_SERIES",
        "RANGE",
        "UNNEST",
        "EXPLODE",
        "FLATTEN",
        "GENERATE_DATE_ARRAY",
        "GENERATE_TIMESTAMP_ARRAY",
        "GENERATE_ARRAY",
        "SEQUENCE",
        "GENERATOR",
        "VALUES",
    }
)


class UnreadableSql(ValueError):
    """The SQL could not be parsed in its dialect (the message says where)."""


@dataclass(frozen=True)
class SqlReads:
    """What one query reads, in the order first seen, each once.

    `relations`: the tables and views it names, as (catalog, schema, name) with each part
    folded by the dialect's case rule ("" for a part not written); CTE names are left out.
    `functions`: table functions that may read something (`read_csv('x.csv')`), as written.
    `date_clocks`: clock expressions at day grain or coarser (`CURRENT_DATE`,
    `DATE_TRUNC('MONTH', NOW())`), as the dialect writes them; `volatile_clocks`: clock
    expressions below a day (`CURRENT_TIMESTAMP`).
    """

    relations: tuple[tuple[str, str, str], ...] = ()
    functions: tuple[str, ...] = ()
    date_clocks: tuple[str, ...] = ()
    volatile_clocks: tuple[str, ...] = ()


def dialect_of(adapter_type: str) -> str | None:
    """sqlglot's dialect for a dbt adapter type (None: sqlglot's generic SQL)."""
    name = _DIALECTS.get(adapter_type, adapter_type)
    return name if name in _KNOWN_DIALECTS else None


def read_sql(sql: str, dialect: str | None) -> SqlReads:
    """What `sql` (one or more statements) reads; UnreadableSql when it cannot be parsed."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as error:
        raise UnreadableSql(sqlglot_message(error)) from None
    for statement in statements:
        if isinstance(statement, exp.Command):  # sqlglot's fallback for syntax it does not know
            raise UnreadableSql(f"sqlglot does not know the statement {statement.name!r}")
    if not statements:
        raise UnreadableSql("it holds no SQL statement")
    relations: dict[tuple[str, str, str], None] = {}
    functions: dict[str, None] = {}
    for statement in statements:
        ctes = {_folded(cte.alias_or_name, dialect) for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if not isinstance(table.this, exp.Identifier):
                called = _table_function(table, dialect)
                if called:
                    functions[called] = None
                continue
            if not table.args.get("db") and _folded(table.name, dialect) in ctes:
                continue
            relations[table_name(table, dialect)] = None
    date_clocks, volatile = _clocks(statements, dialect)
    return SqlReads(tuple(relations), tuple(functions), date_clocks, volatile)


def sql_of_template(raw: str, quote: Callable[[str], str]) -> str | None:
    """A model's SQL without compiling it, when its only Jinja is calls of ref, source and
    config with literal arguments, `this`, and `{% if is_incremental() %}` blocks: each ref
    and source call and `this` as the quoted name `DECLARED`, each config call as nothing,
    as dbt renders them. Both sides of every `is_incremental()` block are read (as separate
    statements), whichever a build takes: what either reads is an input. None for any
    other template."""
    try:
        template = _TEMPLATES.parse(raw)
    except TemplateSyntaxError:
        return None
    variants = _variants(template.body, quote)
    return None if variants is None else "\n;\n".join(variants)


def _variants(statements: list[nodes.Node], quote: Callable[[str], str]) -> list[str] | None:
    """The SQL these statements render to, once per side of each `is_incremental()` block."""
    found = [""]
    for statement in statements:
        if isinstance(statement, nodes.Output):
            text = _rendered(statement, quote)
            if text is None:
                return None
            found = [sql + text for sql in found]
        elif _on_is_incremental(statement):
            assert isinstance(statement, nodes.If)
            taken, other = _variants(statement.body, quote), _variants(statement.else_, quote)
            if taken is None or other is None:
                return None
            found = list(dict.fromkeys(sql + side for sql in found for side in (*taken, *other)))
            if len(found) > _MAX_VARIANTS:
                return None
        else:
            return None
    return found


def _rendered(output: nodes.Output, quote: Callable[[str], str]) -> str | None:
    sql = []
    for item in output.nodes:
        if isinstance(item, nodes.TemplateData):
            sql.append(item.data)
        elif _literal_call(item, ("ref", "source")) or (
            isinstance(item, nodes.Name) and item.name == "this"
        ):
            sql.append(quote(DECLARED))
        elif not _literal_call(item, ("config",)):
            return None
    return "".join(sql)


def _on_is_incremental(statement: nodes.Node) -> bool:
    """`{% if is_incremental() %}` (or `not is_incremental()`), with no `elif`."""
    if not isinstance(statement, nodes.If) or statement.elif_:
        return False
    test = statement.test.node if isinstance(statement.test, nodes.Not) else statement.test
    called = _literal_call(test, ("is_incremental",))
    return called and isinstance(test, nodes.Call) and not test.args and not test.kwargs


def _literal_call(item: nodes.Node, names: tuple[str, ...]) -> bool:
    return (
        isinstance(item, nodes.Call)
        and isinstance(item.node, nodes.Name)
        and item.node.name in names
        and item.dyn_args is None
        and item.dyn_kwargs is None
        and all(_literal(arg) for arg in item.args)
        and all(_literal(keyword.value) for keyword in item.kwargs)
    )


def _literal(value: nodes.Node) -> bool:
    if isinstance(value, nodes.Const):
        return True
    if isinstance(value, nodes.List | nodes.Tuple):
        return all(_literal(item) for item in value.items)
    if isinstance(value, nodes.Dict):
        return all(_literal(pair.key) and _literal(pair.value) for pair in value.items)
    return False


def table_name(table: exp.Table, dialect: str | None) -> tuple[str, str, str]:
    """(catalog, schema, name) of a table reference, folded as the dialect resolves it."""
    folded = normalize_identifiers(table.copy(), dialect=dialect)
    assert isinstance(folded, exp.Table)
    return (folded.catalog, folded.db, folded.name)


def relation_parts(
    database: str | None, schema: str | None, name: str, dialect: str | None, quoted: bool
) -> tuple[str, str, str]:
    """(catalog, schema, name) of a relation dbt knows, folded as `table_name` folds a
    reference written with these parts (quoted or not)."""
    table = exp.Table(
        this=exp.Identifier(this=name, quoted=quoted),
        db=exp.Identifier(this=schema, quoted=quoted) if schema else None,
        catalog=exp.Identifier(this=database, quoted=quoted) if database else None,
    )
    return table_name(table, dialect)


def clock_query(expressions: list[str], dialect: str | None) -> str:
    """One SELECT of every clock expression (as `read_sql` wrote them), in order."""
    columns = [
        exp.alias_(sqlglot.parse_one(text, read=dialect), f"c{i}")
        for i, text in enumerate(expressions)
    ]
    return exp.select(*columns).sql(dialect=dialect)


def _folded(name: str, dialect: str | None) -> str:
    identifier = normalize_identifiers(exp.to_identifier(name), dialect=dialect)
    return identifier.name


def _table_function(table: exp.Table, dialect: str | None) -> str | None:
    call = table.this
    if isinstance(call, exp.Anonymous):
        name = call.name
    else:
        name = call.sql_name() if isinstance(call, exp.Func) else call.key
    if name.upper() in _PURE_TABLE_FUNCTIONS or isinstance(call, exp.Unnest | exp.Explode):
        return None
    return call.sql(dialect=dialect)


def _clocks(statements: list[Any], dialect: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    date_clocks: dict[str, None] = {}
    volatile: dict[str, None] = {}
    for statement in statements:
        for node in statement.find_all(exp.Expression):
            if _is_date_clock(node):
                outer = node.parent
                if outer is not None and _is_date_clock(outer):
                    continue  # the outer expression is the one recorded
                date_clocks[node.sql(dialect=dialect)] = None
            elif _is_sub_day(node) and not _inside_date_clock(node):
                volatile[node.sql(dialect=dialect)] = None
    return tuple(date_clocks), tuple(volatile)


def _is_clock(node: Any) -> bool:
    return _is_sub_day(node) or _is_plain_date_clock(node)


def _is_sub_day(node: Any) -> bool:
    if isinstance(node, _SUB_DAY_CLOCKS):
        return True
    return isinstance(node, exp.Anonymous) and node.name.upper() in _SUB_DAY_FUNCTIONS


def _is_plain_date_clock(node: Any) -> bool:
    if isinstance(node, _DATE_CLOCKS):
        return True
    return isinstance(node, exp.Anonymous) and node.name.upper() in _DATE_FUNCTIONS


def _is_date_clock(node: Any) -> bool:
    """CURRENT_DATE, or a clock made a date (cast, date(), to_date, trunc) or truncated to
    a day or coarser."""
    if _is_plain_date_clock(node):
        return True
    inner = node.this if isinstance(node.this, exp.Expression) else None
    if inner is None or not (_is_clock(inner) or _is_date_clock(inner)):
        return False
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc | exp.Trunc):
        unit = node.args.get("unit")
        if unit is None:
            return isinstance(node, exp.Trunc)  # trunc(sysdate): the date
        return unit.name.upper().split("(")[0] in _DAY_OR_COARSER
    return isinstance(node, _TO_DATE)


def _inside_date_clock(node: Any) -> bool:
    parent = node.parent
    while parent is not None:
        if _is_date_clock(parent):
            return True
        parent = parent.parent
    return False


def sqlglot_message(error: Exception) -> str:
    """sqlglot's message on one line, without its terminal underlining, a token named by
    its text."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    text = re.sub(r"<Token token_type: [^,]*, text: ([^,]*), [^>]*>", r"'\1'", text)
    return " ".join(text.split())[:300]
