"""The plan as a document: what orc decided and why, each node's outcome, and the time its
reuse saved. Written as `target/orc_plan.json`, printed by `orc plan --output json`, and
drawn by the HTML page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestra_dbt_py import __version__
from orchestra_dbt_py.artifacts import replace_file
from orchestra_dbt_py.core.graph import Node, plural
from orchestra_dbt_py.core.planner import Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.savings import wall_time_estimate

PLAN_ARTIFACT = "orc_plan.json"


def estimated_savings(
    plan: Plan, state: Mapping[str, NodeRecord], nodes: Mapping[str, Node], threads: int
) -> float:
    """Wall-clock seconds the reused nodes would have taken under `threads` threads, estimated
    from the times of their last builds (`wall_time_estimate`)."""
    seconds = {uid: state[uid].execution_time or 0.0 for uid in plan.ids("reuse") if uid in state}
    parents = {uid: node.parents for uid, node in nodes.items()}
    return wall_time_estimate(seconds, parents, threads)


def describe_seconds(seconds: float) -> str:
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds:.1f} s"


def describe_savings(seconds: float) -> str:
    """How the summaries name `estimated_savings`: an estimate of wall-clock time."""
    return f"{describe_seconds(seconds)} of wall-clock time avoided (estimate)"


def describe_unmeasured(names: Sequence[str], what: tuple[str, str] = ("source", "sources")) -> str:
    """`2 sources have no measurable data version and count as changed on every run: a, b`."""
    one = len(names) == 1
    return (
        f"{plural(len(names), *what)} {'has' if one else 'have'} no measurable data version "
        f"and {'counts' if one else 'count'} as changed on every run: {', '.join(names)}"
    )


def plan_document(
    args: Sequence[str],
    plan: Plan,
    nodes: Mapping[str, Node],
    statuses: Mapping[str, str],
    saved_seconds: float,
    defers_to: str | None = None,
    *,
    measurements: Sequence[tuple[str, int, float]] = (),
    claims: Sequence[Mapping[str, Any]] = (),
    phases: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One shape for `orc plan --output json` and `target/orc_plan.json`. `defers_to`: the
    target the run defers to (clones from, reads unselected parents from), None when it
    defers to none. `claims` are the live claims of other runs that a plan sees (a build
    waits for them, so it has none). `phases`: where the run's time went
    (`Phases.document`)."""
    return {
        "orc_version": __version__,
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "args": list(args),
        "defers_to": defers_to,
        "nodes": [
            {
                "unique_id": d.unique_id,
                "resource_type": nodes[d.unique_id].resource_type,
                "decision": d.action,
                "reason": d.reason,
                "status": statuses.get(d.unique_id),
                **({"clone_from": d.clone_from} if d.clone_from is not None else {}),
            }
            for d in plan.decisions.values()
        ],
        "summary": {
            "selected": len(plan.decisions),
            "build": len(plan.ids("build")),
            "reuse": len(plan.ids("reuse")),
            "clone": len(plan.ids("clone")),
            "unmeasured_sources": list(plan.unmeasured_sources),
            "unmeasured_inputs": list(plan.unmeasured_inputs),
            "unreadable_sql": list(plan.unreadable_sql),
            "estimated_seconds_saved": round(saved_seconds, 3),
        },
        "measurements": [
            {"step": step, "relations": count, "seconds": round(seconds, 3)}
            for step, count, seconds in measurements
        ],
        "claims": list(claims),
        "phases": [dict(phase) for phase in phases],
    }


def plan_edges(plan: Plan, nodes: Mapping[str, Node]) -> list[tuple[str, str]]:
    """Parent-to-child edges among the planned nodes and the sources they read, for the
    HTML report."""
    return [
        (parent, uid)
        for uid in plan.decisions
        for parent in nodes[uid].parents
        if parent in plan.decisions or (parent in nodes and nodes[parent].resource_type == "source")
    ]


def write_plan_artifact(target_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write the plan and its outcome as `target/orc_plan.json`, beside dbt's artifacts."""
    return replace_file(target_dir / PLAN_ARTIFACT, json.dumps(document, indent=2))
