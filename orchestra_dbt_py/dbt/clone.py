"""Cloning nodes' tables from the target a run defers to, through the package's
clone_relation macro (zero-copy where the warehouse has it, a copy elsewhere: see
macros/clone/clone_relation.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.relation_names import split_relation
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import one_line

__all__ = ["clone_relations", "source_relation"]


def source_relation(adapter: Any, text: str) -> Any:
    """The adapter's relation for a name as a state record holds it, quoted part by part as
    written, so it renders as that text does. Raises ValueError for text that is no name."""
    name = split_relation(text)
    quoting = {"schema": name.schema.quoted, "identifier": name.identifier.quoted}
    if name.database is not None:
        quoting["database"] = name.database.quoted
    return adapter.Relation.create(
        database=name.database.name if name.database else None,
        schema=name.schema.name,
        identifier=name.identifier.name,
        type="table",
        quote_policy=quoting,
    )


def clone_relations(session: DbtSession, pairs: Sequence[tuple[str, Node]]) -> dict[str, str]:
    """Clone each (source relation, node) pair into the node's relation, as dbt would build
    it, creating its schema when missing; the package's macros must be callable (the
    project's or lent). Returns the error of each node that failed; raises nothing."""
    adapter = session.adapter
    manifest = session.manifest
    errors: dict[str, str] = {}
    jobs: list[tuple[str, Any, Any, bool]] = []
    for text, node in pairs:
        manifest_node = manifest.nodes.get(node.unique_id)
        if manifest_node is None:
            errors[node.unique_id] = f"cannot clone {node.unique_id}: not in the parsed project"
            continue
        try:
            source = source_relation(adapter, text)
        except ValueError as error:
            errors[node.unique_id] = f"cannot clone from the recorded relation: {error}"
            continue
        target = adapter.Relation.create_from(adapter.config, manifest_node)
        transient = bool(manifest_node.config.get("transient", True))
        jobs.append((node.unique_id, source, target, transient))

    schemas = {(target.database, target.schema): target for _, _, target, _ in jobs}
    schema_errors: dict[tuple[str | None, str], str] = {}
    for key, target in schemas.items():
        try:
            with adapter.connection_named(f"orc_clone_schema_{target.schema}"):
                adapter.create_schema(target.without_identifier())
        except Exception as error:
            schema_errors[key] = f"creating schema {target.schema} failed: {one_line(error)}"

    def clone(job: tuple[str, Any, Any, bool]) -> str | None:
        uid, source, target, transient = job
        failed = schema_errors.get((target.database, target.schema))
        if failed:
            return failed
        kwargs = {"source_relation": source, "target_relation": target, "transient": transient}
        try:
            with adapter.connection_named(f"orc_clone_{uid}"):
                adapter.execute_macro("clone_relation", project="orchestra_dbt", kwargs=kwargs)
        except Exception as error:  # the node is built instead, and orc says why
            return f"clone of {source.render()} into {target.render()} failed: {one_line(error)}"
        return None

    try:
        with ThreadPoolExecutor(max(1, session.threads)) as pool:
            for (uid, *_), failure in zip(jobs, pool.map(clone, jobs), strict=True):
                if failure is not None:
                    errors[uid] = failure
    finally:
        adapter.cleanup_connections()
    return errors
