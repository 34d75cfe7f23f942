"""The nodes whose own pre- or post-hooks write rows into a relation other nodes read
(`post_hook: "insert into raw.payments ..."`): that relation changes during the run, after
orc measured it, so such a node is built first and the rest is planned again (rounds.py).

Only hooks with a word that writes rows (`sql_writes.may_write`) are rendered, as dbt
renders them for the node, and parsed; each name written is resolved as the warehouse
resolves it (`SqlInputReader.full_name`, as for names compiled SQL reads). A write into the
node's own relation or into a relation no node reads (an audit table) changes nothing the
run measures. A hook that cannot be rendered or read counts as writing into what others
read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.implicit import SqlInputs
from orchestra_dbt_py.dbt.sql_inputs import SqlInputReader
from orchestra_dbt_py.errors import one_line

__all__ = ["hooks_writing_elsewhere", "writer_line"]

Name = tuple[str, str, str]


def hooks_writing_elsewhere(
    reader: SqlInputReader,
    nodes: Mapping[str, Node],
    sql_inputs: Mapping[str, SqlInputs],
    node_ids: Collection[str],
) -> dict[str, str]:
    """Of `node_ids`, the nodes whose hooks write rows into a relation some node of
    `nodes` reads (or their compiled SQL names, `sql_inputs`), each with what it writes
    there (or why that is unknown)."""
    from orchestra_dbt_py.sql_writes import may_write

    session = reader.session
    runnable = session.runnable
    candidates = [
        runnable[uid]
        for uid in sorted(node_ids)
        if uid in runnable and any(may_write(sql) for sql in _hook_sql(runnable[uid]))
    ]
    if not candidates:
        return {}
    from dbt.context.providers import generate_runtime_model_context

    adapter = session.adapter
    # None: a name orc could not read, which may be any relation.
    read = {reader.parts_of(name) for name in _read_relations(nodes, sql_inputs)}
    found: dict[str, str] = {}
    for node in candidates:
        try:
            with adapter.connection_named(f"orc_hook_writes_{node.name}"):
                context = generate_runtime_model_context(node, session.config, session.manifest)
                rendered = [context["render"](sql) for sql in _hook_sql(node)]
                itself = reader.parts_of(str(context["this"]))
        except Exception as error:  # dbt fails the node when it builds it; orc stays safe
            found[node.unique_id] = f"a relation orc cannot name ({one_line(error)})"
            continue
        finally:
            adapter.cleanup_connections()
        written = _written_into(reader, rendered, itself, read)
        if written:
            found[node.unique_id] = written
    return found


def writer_line(label: str, written: str) -> str:
    """What `orc plan` and `orc dbt` say of a node whose hooks write rows others read."""
    return (
        f"{label} writes rows into {written} in its hooks: `orc dbt` builds it first and "
        "plans the rest again on what it wrote"
    )


def _hook_sql(node: Any) -> list[str]:
    config = node.config
    hooks = [*(config.get("pre_hook") or ()), *(config.get("post_hook") or ())]
    return [hook.sql if hasattr(hook, "sql") else str(hook.get("sql", "")) for hook in hooks]


def _read_relations(nodes: Mapping[str, Node], sql_inputs: Mapping[str, SqlInputs]) -> set[str]:
    """The relations nodes read: every node's, and those compiled SQL names directly."""
    named = {node.relation for node in nodes.values() if node.relation}
    for inputs in sql_inputs.values():
        named.update(i.key for i in inputs.inputs if i.kind == "relation")
    return named


def _written_into(
    reader: SqlInputReader, rendered: list[str], itself: Name | None, read: set[Name | None]
) -> str:
    """What these rendered hooks write that some node reads, other than the node itself,
    named as written; "" for nothing."""
    from orchestra_dbt_py.sql_reads import UnreadableSql
    from orchestra_dbt_py.sql_writes import may_write, written_relations

    names: list[str] = []
    for sql in rendered:
        if not may_write(sql):
            continue
        try:
            written = written_relations(sql, reader.dialect)
        except UnreadableSql as error:
            return f"a relation orc cannot name ({error})"
        for name in written:
            full = reader.full_name(name)
            if full != itself and (full in read or None in read):
                names.append(".".join(part for part in name if part))
    return ", ".join(dict.fromkeys(names))
