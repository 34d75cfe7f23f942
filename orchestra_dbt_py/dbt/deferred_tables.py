"""The target a run defers to, at the warehouse: which of its recorded relations exist and
their data versions now (what the clone decision needs), and dbt reading unselected parents
from there (dbt's deferral, without its `--defer --state` flags)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from orchestra_dbt_py.core.cloning import DeferredTarget
from orchestra_dbt_py.core.graph import Node, holds_data
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.dbt.clone import source_relation
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.report import console

__all__ = ["measure_deferred", "reading_deferred"]


def measure_deferred(
    warehouse: Warehouse,
    name: str,
    records: Mapping[str, NodeRecord],
    nodes: Mapping[str, Node],
) -> DeferredTarget:
    """The deferred target's records, which of their relations exist now and the data
    versions of those that hold data (one listing per schema, one measurement). A relation
    that cannot be read back from its record counts as missing; a failed measurement as
    unmeasured."""
    adapter = warehouse.session.adapter
    relations: dict[str, Any] = {}
    tables: set[str] = set()
    for uid, record in records.items():
        if record.relation is None or uid not in nodes:
            continue
        try:
            relations[record.relation.lower()] = source_relation(adapter, record.relation)
        except ValueError:
            continue
        if holds_data(nodes[uid]):
            tables.add(record.relation.lower())
    existing = warehouse.existing_named(relations.values())
    present = [r for key, r in relations.items() if key in existing and key in tables]
    measured, error = warehouse.data_versions((), present)
    if error is not None:
        console.warn(f"could not measure the tables of target {name} (no clone): {error}")
    versions = {
        key: (measured or {}).get(relation.render(), {})
        for key, relation in relations.items()
        if key in existing and key in tables
    }
    return DeferredTarget(name, records, frozenset(existing), versions)


@contextmanager
def reading_deferred(session: DbtSession, relations: Mapping[str, str]) -> Iterator[None]:
    """While dbt runs, these unselected nodes (unique id: the deferred target's relation)
    resolve to the deferred target's relations, as dbt's `--defer` resolves refs; the parsed
    manifest is as it was afterwards."""
    manifest_nodes = session.manifest.nodes
    adapter = session.adapter
    kept: dict[str, tuple[Any, Any, Any, Any]] = {}
    try:
        for uid, text in relations.items():
            node = manifest_nodes.get(uid)
            if node is None:
                continue
            there = source_relation(adapter, text)
            kept[uid] = (node.database, node.schema, node.alias, node.relation_name)
            node.database, node.schema = there.database, there.schema
            node.alias, node.relation_name = there.identifier, text
        yield
    finally:
        for uid, (database, schema, alias, relation_name) in kept.items():
            node = manifest_nodes[uid]
            node.database, node.schema, node.alias, node.relation_name = (
                database,
                schema,
                alias,
                relation_name,
            )
