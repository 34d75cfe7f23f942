"""The `orc` command line."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra_dbt_py import __version__
from orchestra_dbt_py.errors import OrcError

if TYPE_CHECKING:
    from orchestra_dbt_py.config import Settings
    from orchestra_dbt_py.state.document import NodeRecord

USAGE = (
    "usage: orc dbt <dbt arguments> | orc plan [--output json] [--html PATH] [dbt build "
    "arguments] | orc state {init | show [--json] | validate [FILE] | forget <dbt selection> "
    "| forget --all | push FILE | migrate --from URI --to URI} | orc --version"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return dispatch(args)
    except OrcError as error:
        print(f"orc: error: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        # The reader went away (`orc state show | head`): stop quietly, as a SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def dispatch(args: list[str]) -> int:
    if args in (["--version"], ["-V"]):
        print(f"orc {__version__}")
        return 0
    if args in (["--help"], ["-h"]):
        print(USAGE)
        return 0
    if not args:
        raise OrcError(f"no command given; {USAGE}")
    command, rest = args[0], args[1:]
    if command == "dbt":
        return dbt_command(rest)
    if command == "state":
        return state_command(rest)
    if command == "plan":
        return plan_command(rest)
    hint = f" (did you mean `orc dbt {' '.join(args)}`?)" if not command.startswith("-") else ""
    raise OrcError(f"unknown command {command!r}{hint}; {USAGE}")


def dbt_command(args: list[str]) -> int:
    from orchestra_dbt_py.config import load_settings
    from orchestra_dbt_py.dbt_session import STATEFUL_SUBCOMMANDS, parse_command, run_dbt

    settings = load_settings(Path.cwd(), os.environ)
    command = parse_command(args)
    if not settings.use_stateful or command.subcommand not in STATEFUL_SUBCOMMANDS:
        return run_dbt(args)
    from orchestra_dbt_py.runner import run_stateful

    return run_stateful(command, settings, os.environ)


def plan_command(args: list[str]) -> int:
    """`orc plan [--output json] [--html PATH] [dbt selection and target arguments]`."""
    from orchestra_dbt_py.config import load_settings
    from orchestra_dbt_py.dbt_session import parse_command
    from orchestra_dbt_py.runner import show_plan

    output, html = "text", None
    for flag in ("--output", "-o", "--html"):
        if flag in args:
            at = args.index(flag)
            if at + 1 >= len(args):
                raise OrcError(f"`orc plan {flag}` needs a value")
            value = args[at + 1]
            args = args[:at] + args[at + 2 :]
            if flag == "--html":
                html = Path(value)
            elif value in {"text", "json"}:
                output = value
            else:
                raise OrcError("`orc plan --output` takes `text` or `json`")
    command = parse_command(["build", *args])
    if command.subcommand is None:
        raise OrcError(f"`orc plan` takes the arguments of `dbt build`; these are not: {args}")
    settings = load_settings(Path.cwd(), os.environ)
    return show_plan(command, settings, os.environ, as_json=output == "json", html_path=html)


def state_command(args: list[str]) -> int:
    from orchestra_dbt_py.config import load_settings
    from orchestra_dbt_py.state import open_backend

    action, rest = (args[0], args[1:]) if args else ("", [])
    if action not in STATE_ACTIONS:
        raise OrcError(f"`orc state` needs one of {', '.join(STATE_ACTIONS)}; {USAGE}")
    settings = load_settings(Path.cwd(), os.environ)
    if action == "validate" and rest:
        return validate_file(rest)
    if action == "forget":
        return forget(settings, rest)
    if action in {"push", "migrate"}:
        return transfer(settings, action, rest)
    if rest and not (action == "show" and rest == ["--json"]):
        raise OrcError(f"unexpected arguments for `orc state {action}`: {' '.join(rest)}")
    backend = open_backend(settings)
    if action == "init":
        created = backend.init()
        print(f"{'Created' if created else 'Kept the existing'} state at {backend.description}")
        return 0
    items = backend.load()
    if action == "validate":
        print(f"{backend.description}: valid state with {len(items)} records")
    else:
        show(items, backend.description, as_json=bool(rest))
    return 0


STATE_ACTIONS = ("init", "show", "validate", "forget", "push", "migrate")


def transfer(settings: Settings, action: str, args: list[str]) -> int:
    """`orc state push FILE` and `orc state migrate --from URI --to URI`."""
    from orchestra_dbt_py.state import backend_for_uri, open_backend
    from orchestra_dbt_py.state.transfer import migrate, push

    if action == "push":
        if len(args) != 1:
            raise OrcError("`orc state push` takes one file: the unsaved state a failed save wrote")
        result = push(open_backend(settings), Path(args[0]))
        print(f"Sent {result.sent} records to {result.target} ({result.total} there now)")
        return 0
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    if len(args) != 4 or set(pairs) != {"--from", "--to"}:
        raise OrcError("`orc state migrate` takes --from URI --to URI")
    source = backend_for_uri(pairs["--from"], settings)
    target = backend_for_uri(pairs["--to"], settings)
    result = migrate(source, target)
    print(f"Copied {result.sent} records to {result.target} ({result.total} there now)")
    return 0


def show(items: Mapping[str, NodeRecord], where: str, as_json: bool) -> None:
    from datetime import UTC, datetime

    from orchestra_dbt_py.state.document import dump_state

    if as_json:
        print(dump_state(items))
        return
    now = datetime.now(UTC)
    print(f"{len(items)} records in {where}")
    for key in sorted(items):
        record = items[key]
        age = _describe_age(now - record.last_updated)
        sources = ", ".join(s.split(".", 2)[-1] for s in sorted(record.sources)) or "-"
        print(
            f"{key}  built {record.last_updated:%Y-%m-%d %H:%M:%S}Z ({age} ago)  "
            f"status {record.status or '-'}  sources: {sources}"
        )


def validate_file(paths: list[str]) -> int:
    from orchestra_dbt_py.state.document import parse_state

    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise OrcError(f"cannot read state file {path}: {error.strerror}") from error
        items = parse_state(text, f"state file {path}")
        print(f"{path}: valid state with {len(items)} records")
    return 0


def forget(settings: Settings, args: list[str]) -> int:
    """Drop the records of the nodes a dbt selection names, so that they are rebuilt."""
    from orchestra_dbt_py.dbt_session import DbtSession, parse_command
    from orchestra_dbt_py.runner import state_key
    from orchestra_dbt_py.state import open_backend

    if not args:
        raise OrcError(
            "`orc state forget` needs a dbt selection (e.g. `--select stg_orders+`) or --all"
        )
    if args == ["--all"]:
        backend = open_backend(settings)
        stored = backend.load()
        keys: list[str] = list(stored)
    else:
        session = DbtSession(parse_command(["build", *args]))
        # A warehouse state is read with the project and target of the selection.
        backend = open_backend(settings, dbt=lambda: session)
        stored = backend.load()
        nodes = session.graph({})
        keys = [state_key(nodes[uid], settings) for uid in session.selected_ids()]
    gone = [key for key in keys if key in stored]
    if gone:
        backend.update({}, removals=gone)
    print(f"Forgot {len(gone)} of {len(keys)} selected nodes in {backend.description}")
    return 0


def _describe_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


if __name__ == "__main__":
    sys.exit(main())
