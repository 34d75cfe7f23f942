"""Which relations a hook's SQL writes rows into. Pure: text in, names out (sqlglot).

A model's pre- or post-hook may load rows into a table other models read (`insert into
raw.payments ...`). What it writes is what `insert`, `update`, `delete`, `merge`, `copy`,
`truncate` and `create table` name as their target; anything else (`grant`, `analyze`,
`create index`) writes no rows. sqlglot is imported only when a hook may write (about 0.1 s).
"""

from __future__ import annotations

import re

__all__ = ["may_write", "written_relations"]

Name = tuple[str, str, str]

# Hook SQL without any of these words writes no rows: it is not rendered or parsed.
_WRITING_WORDS = re.compile(
    r"\b(insert|update|delete|merge|copy|truncate|create\s+(or\s+replace\s+)?\w*\s*table)\b",
    re.IGNORECASE,
)

# A write whose target is the node itself, as its unrendered hook names it.
_INTO_ITSELF = re.compile(
    r"\b(insert\s+(into|overwrite)|delete\s+from|update|merge\s+into|truncate(\s+table)?)"
    r"\s+\{\{-?\s*this\s*-?\}\}",
    re.IGNORECASE,
)


def may_write(sql: str) -> bool:
    """Whether this (unrendered or rendered) SQL has a word that writes rows, other than
    into `{{ this }}`."""
    return _WRITING_WORDS.search(_INTO_ITSELF.sub("", sql)) is not None


def written_relations(sql: str, dialect: str | None) -> list[Name]:
    """The relations `sql` writes rows into, as (catalog, schema, name) folded as
    `sql_reads.table_name` folds them; UnreadableSql when a statement cannot be read."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from orchestra_dbt_py.sql_reads import UnreadableSql, sqlglot_message, table_name

    row_writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as error:
        raise UnreadableSql(sqlglot_message(error)) from None
    written: list[Name] = []
    for statement in statements:
        if isinstance(statement, exp.Command) and may_write(statement.sql()):
            raise UnreadableSql(f"sqlglot does not know the statement {statement.name!r}")
        if isinstance(statement, row_writes):
            targets = [statement.this]
        elif isinstance(statement, exp.TruncateTable):
            targets = list(statement.expressions)
        elif isinstance(statement, exp.Create) and statement.kind == "TABLE":
            targets = [statement.this]
        else:
            continue
        for target in targets:
            table = target.this if isinstance(target, exp.Schema) else target
            if not isinstance(table, exp.Table):
                raise UnreadableSql(f"the target of {statement.key} is not a table name")
            written.append(table_name(table, dialect))
    return written
