"""What orc tells the user on the console: dbt-style log lines, the plan, the summary."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from orchestra_dbt_py.core.graph import FAILED_STATUSES, Node, data_inputs
from orchestra_dbt_py.core.planner import Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.report.plan import describe_seconds, estimated_savings

_log_format = {"value": "text"}
_to_stderr = {"value": False}


def use_log_format(log_format: str | None) -> None:
    """Follow dbt's `--log-format`: with `json`, orc's own lines are JSON too."""
    _log_format["value"] = "json" if log_format == "json" else "text"


def keep_stdout_for_data(flag: bool) -> None:
    """With True, log lines go to stderr (stdout carries a JSON document)."""
    _to_stderr["value"] = flag


def say(message: str, level: str = "info") -> None:
    """One log line in dbt's console format, or a JSON line shaped like dbt's."""
    if _log_format["value"] == "json":
        now = datetime.now(UTC)
        line = {
            "info": {
                "name": "OrcMessage",
                "code": "",
                "msg": message,
                "level": level,
                "ts": now.isoformat().replace("+00:00", "Z"),
                "pid": os.getpid(),
                "thread": threading.current_thread().name,
                "category": "",
                "extra": {},
                "invocation_id": "",
            },
            "data": {"msg": message},
        }
        click.echo(json.dumps(line), err=_to_stderr["value"])
        return
    click.echo(f"{datetime.now():%H:%M:%S}  orc: {message}", err=_to_stderr["value"])


def announce_plan(plan: Plan, nodes: Mapping[str, Node], verbose: Any = False) -> None:
    if plan.unmeasured_sources:
        names = ", ".join(nodes[s].label for s in plan.unmeasured_sources)
        say(
            f"{len(plan.unmeasured_sources)} source(s) have no measurable data version and count "
            f"as changed on every run: {names}. Give them a loaded_at_field or loaded_at_query "
            "(this warehouse reports no change signal of its own for them)."
        )
    built, reused = plan.ids("build"), plan.ids("reuse")
    say(f"plan: {len(built)} to run, {len(reused)} to reuse of {len(plan.decisions)} selected")
    if verbose:
        for decision in plan.decisions.values():
            say(f"  {decision.action:<6} {decision.unique_id}: {decision.reason}")


def summarize(plan: Plan, statuses: Mapping[str, str], saved_seconds: float) -> None:
    reused = len(plan.ids("reuse"))
    total = len(plan.decisions)
    ran = len(statuses)
    failed = sum(1 for s in statuses.values() if s in FAILED_STATUSES)
    skipped = sum(1 for s in statuses.values() if s == "skipped")
    line = f"Reused {reused} of {total} nodes; ran {ran}"
    if failed or skipped:
        line += f" ({failed} failed, {skipped} skipped)"
    if saved_seconds:
        line += f"; {describe_seconds(saved_seconds)} of execution avoided"
    say(line)


def print_plan_table(
    plan: Plan,
    nodes: Mapping[str, Node],
    state: Mapping[str, NodeRecord],
    freshness: Mapping[str, datetime | None],
) -> None:
    """One line per selected node: what orc would do, why, and the times it compared."""
    rows = [("node", "type", "decision", "last built", "upstream data", "reason")]
    for decision in plan.decisions.values():
        node = nodes[decision.unique_id]
        record = state.get(decision.unique_id)
        inputs = [freshness.get(i) for i in data_inputs(nodes, node.unique_id) if i in freshness]
        newest = max((t for t in inputs if t is not None), default=None)
        rows.append(
            (
                node.label,
                node.resource_type,
                decision.action,
                _time(record.last_updated) if record else "-",
                _time(newest) if newest else "-",
                decision.reason,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        click.echo("  ".join([*cells, row[5]]))
    saved = estimated_savings(plan, state)
    click.echo(
        f"{len(plan.ids('build'))} to build, {len(plan.ids('reuse'))} to reuse "
        f"of {len(plan.decisions)} selected ({describe_seconds(saved)} of execution avoided)"
    )


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"
