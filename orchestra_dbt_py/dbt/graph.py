"""The manifest translated into the core's plain nodes: parents, relations, materializations,
build_after policies, and each node's definition fingerprint and its parts."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from dbt.contracts.graph.manifest import Manifest

from orchestra_dbt_py.core.graph import PRE_CLONE_VALUES, BuildAfter, Node, PreClone
from orchestra_dbt_py.dbt.node_settings import node_choice, node_setting
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.fingerprint import (
    Definitions,
    fingerprint_definitions,
    project_settings,
    unit_test_fingerprint,
    unit_test_parts,
    vars_provider,
)

__all__ = ["ProjectGraph", "plain_nodes", "read_graph"]

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# dbt State's `state: {lag_tolerance: "4h"}`: a whole number and a unit.
_LAG_TOLERANCE = re.compile(r"\s*(\d+)\s*([mhd])\s*")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ProjectGraph:
    """The project as the core sees it."""

    nodes: dict[str, Node]
    # Nodes that read a var, env var or target field by a computed name: only orc's own
    # fingerprint covers every value they might read (the hooks' cannot vouch for them).
    computed_reads: frozenset[str]
    # dbt's checksum of each node's file, kept in the record for dbt-orchestra.
    checksums: dict[str, str | None]


def read_graph(
    session: DbtSession, selected: Collection[str], env: Mapping[str, str]
) -> ProjectGraph:
    """Every node of the project, with definition fingerprints for the selected ones (and
    the models their unit tests test, whose fingerprints the unit tests include)."""
    manifest = session.manifest
    unit_tests = manifest.unit_tests
    tested = {p for uid in selected if uid in unit_tests for p in unit_tests[uid].depends_on.nodes}

    def compute(node_ids: Collection[str], read_env: Mapping[str, str]) -> Definitions:
        return fingerprint_definitions(
            manifest,
            vars_for_package=vars_provider(session.config),
            env=read_env,
            adapter_type=session.adapter_type,
            node_ids=node_ids,
            target=session.target_dict,
            settings=project_settings(session.config),
        )

    wanted = sorted({uid for uid in [*selected, *tested] if uid in manifest.nodes})
    definitions = session.project_cache(env).definitions(wanted, compute)
    checksums = {
        uid: getattr(getattr(node, "checksum", None), "checksum", None)
        for uid, node in manifest.nodes.items()
    }
    return ProjectGraph(
        plain_nodes(manifest, definitions.fingerprints, definitions.parts),
        definitions.computed_reads,
        checksums,
    )


def plain_nodes(
    manifest: Manifest,
    fingerprints: Mapping[str, str],
    parts: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Node]:
    """The manifest's sources, nodes and unit tests as the planner's plain nodes, with the
    fingerprints and definition parts given (unit tests get their fingerprints here)."""
    parts = parts or {}
    nodes: dict[str, Node] = {}
    for uid, source in manifest.sources.items():
        nodes[uid] = Node(uid, "source", relation=source.relation_name, name=source.name)
    for uid, node in manifest.nodes.items():
        label = f"{node.resource_type} {node.name}"
        meta = getattr(node, "meta", None) or {}
        pre_clone = node_choice(label, node.config, meta, "pre_clone", PRE_CLONE_VALUES)
        nodes[uid] = Node(
            unique_id=uid,
            resource_type=str(node.resource_type),
            materialized=getattr(node.config, "materialized", None),
            parents=tuple(getattr(node.depends_on, "nodes", ())),
            relation=_relation_name(node),
            fingerprint=fingerprints.get(uid),
            definition=parts.get(uid),
            build_after=_build_after(node) or _state_build_after(label, node.config, meta),
            name=node.name,
            pre_clone=cast(PreClone, pre_clone or "if_missing"),
        )
    for uid, unit_test in manifest.unit_tests.items():
        parents = tuple(unit_test.depends_on.nodes)
        nodes[uid] = Node(
            unique_id=uid,
            resource_type="unit_test",
            parents=parents,
            fingerprint=unit_test_fingerprint(unit_test, [fingerprints.get(p) for p in parents]),
            definition=unit_test_parts(unit_test, [parts.get(p) for p in parents]),
            name=unit_test.name,
        )
    return nodes


_LONGEST_WINDOW_SECONDS = int(timedelta.max.total_seconds())


def _relation_name(node: Any) -> str | None:
    name = getattr(node, "relation_name", None)
    return str(name) if name else None


def _build_after(node: Any) -> BuildAfter | None:
    freshness = getattr(node.config, "freshness", None)
    build_after = getattr(freshness, "build_after", None) if freshness else None
    if build_after is None:
        return None
    count, period = getattr(build_after, "count", None), getattr(build_after, "period", None)
    if not count or count < 0 or period is None:
        return None
    seconds = PERIOD_SECONDS.get(str(getattr(period, "value", period)))
    if seconds is None:
        return None
    updates_on = str(getattr(getattr(build_after, "updates_on", None), "value", "any") or "any")
    # A count beyond what a duration can hold means "not within any run's lifetime".
    window = min(int(count) * seconds, _LONGEST_WINDOW_SECONDS)
    return BuildAfter(timedelta(seconds=window), "all" if updates_on == "all" else "any")


def _state_build_after(label: str, config: Any, meta: Mapping[str, Any]) -> BuildAfter | None:
    """dbt State's names for a build_after policy: `lag_tolerance` ("45m", "4h", "7d") is the
    window, `require_fresh_data_from` (any or all) is updates_on. Ours
    (`freshness.build_after`) wins when both are set; the caller asks ours first."""
    lag, where = node_setting(label, config, meta, "lag_tolerance")
    updates_on = node_choice(label, config, meta, "require_fresh_data_from", ("any", "all"))
    window = 0
    if lag is not None:
        matched = _LAG_TOLERANCE.fullmatch(lag) if isinstance(lag, str) else None
        if matched is None:
            raise OrcError(
                f"{label} sets {where}.lag_tolerance to {lag!r}: write a whole number and "
                "m, h or d, like 45m, 4h or 7d"
            )
        count = int(matched.group(1))
        window = min(count * _UNIT_SECONDS[matched.group(2)], _LONGEST_WINDOW_SECONDS)
    if window == 0 and updates_on != "all":
        return None
    return BuildAfter(timedelta(seconds=window), "all" if updates_on == "all" else "any")
