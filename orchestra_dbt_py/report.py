"""What orc tells the user: dbt-style log lines, the summary, the plan artifact."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestra_dbt_py import __version__
from orchestra_dbt_py.dbt_session import DbtCommand
from orchestra_dbt_py.planner import Node, Plan

PLAN_ARTIFACT = "orc_plan.json"
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


def say(message: str) -> None:
    """One log line in dbt's console format."""
    click.echo(f"{datetime.now():%H:%M:%S}  orc: {message}")


def announce_plan(plan: Plan, nodes: Mapping[str, Node], verbose: Any = False) -> None:
    if plan.unmeasured_sources:
        names = ", ".join(nodes[s].label for s in plan.unmeasured_sources)
        say(
            f"{len(plan.unmeasured_sources)} source(s) have no measurable freshness and count "
            f"as changed on every run: {names}. Give them a loaded_at_field or loaded_at_query."
        )
    built, reused = plan.ids("build"), plan.ids("reuse")
    say(f"plan: {len(built)} to run, {len(reused)} to reuse of {len(plan.decisions)} selected")
    if verbose:
        for decision in plan.decisions.values():
            say(f"  {decision.action:<6} {decision.unique_id}: {decision.reason}")


def summarize(plan: Plan, statuses: Mapping[str, str]) -> None:
    reused = len(plan.ids("reuse"))
    total = len(plan.decisions)
    ran = len(statuses)
    failed = sum(1 for s in statuses.values() if s in FAILED_STATUSES)
    skipped = sum(1 for s in statuses.values() if s == "skipped")
    line = f"Reused {reused} of {total} nodes; ran {ran}"
    if failed or skipped:
        line += f" ({failed} failed, {skipped} skipped)"
    say(line)


def plan_document(
    command: DbtCommand, plan: Plan, nodes: Mapping[str, Node], statuses: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "orc_version": __version__,
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "args": list(command.args),
        "nodes": [
            {
                "unique_id": d.unique_id,
                "resource_type": nodes[d.unique_id].resource_type,
                "decision": d.action,
                "reason": d.reason,
                "status": statuses.get(d.unique_id),
            }
            for d in plan.decisions.values()
        ],
        "summary": {
            "selected": len(plan.decisions),
            "build": len(plan.ids("build")),
            "reuse": len(plan.ids("reuse")),
            "unmeasured_sources": list(plan.unmeasured_sources),
        },
    }


def write_plan_artifact(
    target_dir: Path,
    command: DbtCommand,
    plan: Plan,
    nodes: Mapping[str, Node],
    statuses: Mapping[str, str],
) -> Path:
    """Write the plan and its outcome as `target/orc_plan.json`, beside dbt's artifacts."""
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / PLAN_ARTIFACT
    text = json.dumps(plan_document(command, plan, nodes, statuses), indent=2)
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{PLAN_ARTIFACT}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
