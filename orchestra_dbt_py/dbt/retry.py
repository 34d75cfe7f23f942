"""`dbt retry` after a stateful command: the previous invocation, read from the
run_results.json it left as dbt's own retry reads it, and the nodes to run again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestra_dbt_py.dbt.command import (
    STATEFUL_SUBCOMMANDS,
    DbtCommand,
    command_flags,
    parse_command,
)
from orchestra_dbt_py.dbt.run_results import CLONED_MESSAGE, REUSED_MESSAGE, RUN_RESULTS
from orchestra_dbt_py.errors import OrcError

__all__ = ["Retry", "previous_run"]


@dataclass(frozen=True)
class Retry:
    """The previous command, as a command line of its own, and what to run of it again."""

    command: DbtCommand
    # Unique id -> why it runs again (its status in the previous run).
    nodes: dict[str, str]


def previous_run(retry: DbtCommand) -> Retry | None:
    """What `retry` runs again: the previous invocation's command with its flags (the retry's
    own where dbt's retry takes them from it), and the nodes that failed or were skipped in
    it, not those orc reused or cloned. None where plain `dbt retry` should run: no previous results
    (dbt says so), or a previous command orc does not plan (seed, compile...)."""
    flags = command_flags(retry)
    document = _previous_results(flags)
    if document is None:
        return None
    previous = dict(document.get("args") or {})
    which = previous.get("which")
    if which not in STATEFUL_SUBCOMMANDS:
        return None
    retryable = _retryable_statuses(bool(flags.WARN_ERROR))
    nodes = {
        str(result["unique_id"]): f"{result['status']} in the run it retries"
        for result in document.get("results") or []
        if isinstance(result, dict)
        and result.get("status") in retryable
        and not str(result.get("unique_id", "")).startswith("operation.")
        and not str(result.get("message") or "").startswith((REUSED_MESSAGE, CLONED_MESSAGE))
    }
    return Retry(_previous_command(str(which), previous, retry), nodes)


def _previous_results(flags: Any) -> dict[str, Any] | None:
    """The run_results.json dbt's retry reads: under --state, else the target path."""
    root = Path(flags.PROJECT_DIR or ".")
    folder = flags.STATE or flags.TARGET_PATH or _project_target_path(root)
    path = root / folder / RUN_RESULTS
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise OrcError(f"cannot read {path} to retry: {error}; run the command again") from error
    return document if isinstance(document, dict) else None


def _project_target_path(root: Path) -> str:
    """The project's `target-path` (a plain value in dbt_project.yml), else dbt's default."""
    from dbt.clients.yaml_helper import load_yaml_text

    try:
        project = load_yaml_text((root / "dbt_project.yml").read_text(encoding="utf-8"))
    except Exception:  # dbt reports a project it cannot read when it parses it
        return "target"
    value = project.get("target-path") if isinstance(project, dict) else None
    return value if isinstance(value, str) and "{" not in value else "target"


def _retryable_statuses(warn_error: bool) -> set[str]:
    from dbt.task.retry import RETRYABLE_STATUSES

    statuses = {str(status.value) for status in RETRYABLE_STATUSES}
    return statuses | {"warn"} if warn_error else statuses


def _previous_command(which: str, previous: dict[str, Any], retry: DbtCommand) -> DbtCommand:
    """The previous invocation's command line, made as dbt's retry makes its flags: the
    previous arguments, but the retry's own paths, and its --vars and --threads when given."""
    from dbt.cli.flags import command_params
    from dbt.cli.types import Command
    from dbt.task.retry import ALLOW_CLI_OVERRIDE_FLAGS, IGNORE_PARENT_FLAGS

    kept = {
        key: value
        for key, value in previous.items()
        if key not in IGNORE_PARENT_FLAGS and value not in ([], {}) and key != "show"
    }
    own = {
        key: value
        for key, value in retry.params.items()
        if key in IGNORE_PARENT_FLAGS | ALLOW_CLI_OVERRIDE_FLAGS
    }
    args = command_params(Command(which), {**kept, **own})
    command = parse_command([str(arg) for arg in args])
    if command.subcommand != which:
        raise OrcError(
            f"cannot read the previous `dbt {which}` back from its run_results.json to retry "
            "it; run the command again instead of retrying it"
        )
    return command
