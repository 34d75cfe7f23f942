"""What orc tells the user on the console: dbt-style log lines, the plan, the summary."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestra_dbt_py.core.graph import FAILED_STATUSES, Node, data_inputs, plural
from orchestra_dbt_py.core.planner import Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.report.fit import fit_table
from orchestra_dbt_py.report.plan import describe_savings, describe_unmeasured, estimated_savings

# Console levels, lowest first: a line is written when its level reaches the console's.
_LEVELS = ("debug", "info", "warn", "error", "none")


@dataclass
class _Output:
    """Where and how orc's lines are written; one per process, set by `configure`."""

    format: str = "default"
    level: str = "info"
    quiet: bool = False
    to_stderr: bool = False
    invocation_id: Callable[[], str] = lambda: ""


_output = _Output()


def configure(
    dbt_flags: Mapping[str, Any],
    stdout_for_data: bool = False,
    invocation_id: Callable[[], str] = lambda: "",
    debug: bool = False,
) -> None:
    """Follow dbt's console flags (`console_flags`) as dbt's console does: `--log-format`
    (`json`: JSON lines carrying `invocation_id()`; `debug`: dbt's debug line format),
    `--debug` or `--log-level debug` (or orc's `debug`, ORCHESTRA_DBT_DEBUG) add the
    reasons, `--log-level none` leaves out every line. `--quiet` leaves out all but warnings
    and errors: what orc warns about needs acting on. `--log-level warn` or `error` keeps
    orc's information lines: they stand for the per-node lines it hides (`make demo`).
    With `stdout_for_data`, the lines go to stderr: stdout carries a JSON document."""
    level = str(dbt_flags.get("log_level") or "info")
    if level != "none":
        level = "debug" if debug or dbt_flags.get("debug") or level == "debug" else "info"
    _output.format = str(dbt_flags.get("log_format") or "default")
    _output.level = level if level in _LEVELS else "info"
    _output.quiet = bool(dbt_flags.get("quiet"))
    _output.to_stderr = stdout_for_data
    _output.invocation_id = invocation_id


def shows(level: str) -> bool:
    """Whether a line of this level is written."""
    if _output.quiet and level in ("debug", "info"):
        return False
    return _LEVELS.index(level) >= _LEVELS.index(_output.level)


def say(message: str, level: str = "info") -> None:
    """One log line in dbt's console format, or a JSON line shaped like dbt's, unless the
    console leaves out lines of this level."""
    if shows(level):
        click.echo(line(message, level), err=_output.to_stderr)


def error(message: str) -> None:
    """orc's error line, always on stderr, in the console's format."""
    text = line(message, "error") if _output.format == "json" else f"orc: error: {message}"
    click.echo(text, err=True)


def line(message: str, level: str) -> str:
    now = datetime.now(UTC)
    if _output.format == "json":
        document = {
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
                "invocation_id": _output.invocation_id(),
            },
            "data": {"msg": message},
        }
        return json.dumps(document)
    if _output.format == "debug":
        thread = threading.current_thread().name
        return f"{now:%H:%M:%S.%f} [{level:<5}] [{thread}]: orc: {message}"
    return f"{datetime.now():%H:%M:%S}  orc: {message}"


def relay(message: str) -> None:
    """A warning dbt gave where it printed nothing (orc's own `dbt ls`), shown as dbt shows
    its warnings: not under --quiet."""
    if not _output.quiet:
        warn(message)


def warn(message: str) -> None:
    """A line `--quiet` does not silence: something the user should act on."""
    say(message, "warn")


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


_BY_NAME = ("input read by name", "inputs read by name")


def announce_plan(plan: Plan, nodes: Mapping[str, Node]) -> None:
    if plan.unmeasured_sources:
        names = [nodes[s].label for s in plan.unmeasured_sources]
        warn(
            f"{describe_unmeasured(names)}. The warehouse reports no change signal orc can "
            "read for them (for a view: for what it reads). A loaded_at_field or "
            "loaded_at_query would let orc reuse them, but then only a moved maximum counts as "
            "a change: rows updated or deleted without a newer one would be missed."
        )
    if plan.unmeasured_inputs:
        names = list(plan.unmeasured_inputs)
        warn(
            f"{describe_unmeasured(names, _BY_NAME)}. Declare each one as a "
            "source (one the warehouse can measure)."
        )
    for uid in plan.unreadable_sql:
        warn(f"{nodes[uid].label} is built on every run: {plan.decisions[uid].reason}")
    built, reused = plan.ids("build"), plan.ids("reuse")
    say(
        f"plan: {len(built)} to run{_cloning(plan)}, {len(reused)} to reuse "
        f"of {len(plan.decisions)} selected"
    )
    for decision in plan.decisions.values():
        say(f"  {decision.action:<6} {decision.unique_id}: {decision.reason}", "debug")


def summarize(
    plan: Plan,
    statuses: Mapping[str, str],
    saved_seconds: float,
    interrupted: Collection[str] = (),
) -> None:
    """The run in one line; the nodes a signal stopped (`interrupted`) are said as such,
    not as failed or skipped."""
    reused, cloned = len(plan.ids("reuse")), set(plan.ids("clone"))
    total = len(plan.decisions)
    ran = len(statuses.keys() - cloned)
    ended = [s for uid, s in statuses.items() if uid not in interrupted]
    failed = sum(1 for s in ended if s in FAILED_STATUSES)
    skipped = sum(1 for s in ended if s == "skipped")
    line = f"Reused {reused} of {plural(total, 'node')}; "
    line += f"cloned {len(cloned)}; ran {ran}" if cloned else f"ran {ran}"
    if failed or skipped or interrupted:
        counts = [f"{failed} failed", f"{skipped} skipped"]
        if interrupted:
            counts.append(f"{len(interrupted)} interrupted")
        line += f" ({', '.join(counts)})"
    if saved_seconds:
        line += f"; {describe_savings(saved_seconds)}"
    say(line)


def print_plan_table(
    plan: Plan,
    nodes: Mapping[str, Node],
    state: Mapping[str, NodeRecord],
    freshness: Mapping[str, datetime | None],
    threads: int,
    width: int | None,
) -> None:
    """One line per selected node: what orc would do, why, and the times it compared; cut
    to `width` (reasons first, then names) unless it is None."""
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
    for text in fit_table(rows, width, shrink=((5, 40), (0, 30), (5, 12))):
        click.echo(text)
    saved = estimated_savings(plan, state, nodes, threads)
    click.echo(
        f"{len(plan.ids('build'))} to build{_cloning(plan)}, {len(plan.ids('reuse'))} to reuse "
        f"of {len(plan.decisions)} selected; {describe_savings(saved)}"
    )


def _cloning(plan: Plan) -> str:
    """`, 3 to clone` when the plan clones anything."""
    cloned = len(plan.ids("clone"))
    return f", {cloned} to clone" if cloned else ""


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"
