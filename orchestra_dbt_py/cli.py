"""The `orc` command line."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestra_dbt_py import __version__
from orchestra_dbt_py.errors import OrcError

USAGE = "usage: orc dbt <dbt arguments> | orc state {init,show,validate} [--json] | orc --version"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return dispatch(args)
    except OrcError as error:
        print(f"orc: error: {error}", file=sys.stderr)
        return error.exit_code


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


def state_command(args: list[str]) -> int:
    from orchestra_dbt_py.config import load_settings
    from orchestra_dbt_py.state import open_backend
    from orchestra_dbt_py.state.document import dump_state

    if not args or args[0] not in {"init", "show", "validate"}:
        raise OrcError(f"`orc state` needs init, show or validate; {USAGE}")
    action, flags = args[0], args[1:]
    unknown = [f for f in flags if f != "--json"]
    if unknown:
        raise OrcError(f"unknown option {unknown[0]!r} for `orc state {action}`; {USAGE}")
    backend = open_backend(load_settings(Path.cwd(), os.environ))
    if action == "init":
        created = backend.init()
        print(f"{'Created' if created else 'Kept the existing'} state at {backend.description}")
        return 0
    items = backend.load()
    if action == "validate":
        print(f"{backend.description}: valid state with {len(items)} records")
        return 0
    if "--json" in flags:
        print(dump_state(items))
        return 0
    print(f"{len(items)} records in {backend.description}")
    for key in sorted(items):
        record = items[key]
        sources = ", ".join(sorted(record.sources)) or "-"
        print(f"{key}  built {record.last_updated:%Y-%m-%d %H:%M:%S}Z  sources: {sources}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
