"""A dbt command line, read the way dbt reads it, and dbt run as `dbt` would run it."""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import shlex
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from dbt.cli.main import cli, dbtRunnerResult
from dbt.node_types import NodeType

from orchestra_dbt_py.errors import OrcError

__all__ = [
    "RESOURCE_TYPES_BY_COMMAND",
    "SELECTION_PARAMS",
    "STATEFUL_SUBCOMMANDS",
    "DbtCommand",
    "accepted_params",
    "command_flags",
    "console_flags",
    "exit_code",
    "parse_build_arguments",
    "parse_command",
    "run_dbt",
]

# The name dbt's help and usage lines give the program.
DBT_PROGRAM = "dbt"
# Selection parameters of the user's command: orc computes the selection with them once,
# then replaces them by a selection of exactly the nodes that must run.
SELECTION_PARAMS = (
    "select",
    "exclude",
    "selector",
    "resource_types",
    "exclude_resource_types",
    "indirect_selection",
)
# Parameters that make dbt build relations with only part of their data.
PARTIAL_DATA_PARAMS = ("empty", "sample", "event_time_start", "event_time_end")
# Of those, the ones dbt applies to microbatch models only (a backfill of a batch range).
MICROBATCH_ONLY_PARAMS = ("event_time_start", "event_time_end")
# The subcommands orc plans; every other one passes through to dbt unchanged.
STATEFUL_SUBCOMMANDS = frozenset({"build", "run", "test"})
# What `dbt build|run|test` would execute, as `dbt ls --resource-type` names.
# ("function" nodes exist from dbt-core 1.11 on; older releases reject the name.)
_NODE_TYPES = frozenset(str(node_type.value) for node_type in NodeType)
RESOURCE_TYPES_BY_COMMAND = {
    command: tuple(name for name in names if name in _NODE_TYPES)
    for command, names in {
        "build": ("model", "seed", "snapshot", "test", "unit_test", "function"),
        "run": ("model",),
        "test": ("test", "unit_test"),
    }.items()
}


@dataclass(frozen=True)
class DbtCommand:
    """A parsed `dbt ...` command line."""

    args: tuple[str, ...]
    subcommand: str | None
    # Parameters the user gave on the command line, as dbt's click parser read them.
    params: Mapping[str, Any]

    @property
    def full_refresh(self) -> bool:
        return bool(self.params.get("full_refresh"))

    @property
    def partial_data_flags(self) -> list[str]:
        """Flags under which dbt builds relations with partial data (never to be reused)."""
        return [f"--{p.replace('_', '-')}" for p in PARTIAL_DATA_PARAMS if self.params.get(p)]

    @property
    def partial_data_everywhere(self) -> bool:
        """Whether every node builds partial data (not only microbatch models)."""
        everywhere = (p for p in PARTIAL_DATA_PARAMS if p not in MICROBATCH_ONLY_PARAMS)
        return any(self.params.get(p) for p in everywhere)


def parse_command(args: Sequence[str]) -> DbtCommand:
    """Read a dbt command line the way dbt does, without running anything.

    A command line dbt would reject (or `--help`) yields no subcommand, so that it
    passes through to dbt, which reports it as usual.
    """
    return _read_command(args)[0]


def parse_build_arguments(
    args: Sequence[str], orc_command: str, own_options: Sequence[str] = ()
) -> DbtCommand:
    """The arguments of `dbt build` given to an orc command (`orc plan`, `orc state forget`),
    read as dbt reads them. Names before the first option are the selection: `orc plan a b+`
    is `orc plan --select a b+`.

    A line dbt would reject is an OrcError naming dbt's reason: it is never read as no
    arguments (which would select every node). A misspelt option gets suggestions from
    dbt's options and the orc command's `own_options`.
    """
    given = list(args)
    # dbt's --select takes every value up to the next option.
    read = ["--select", *given] if given and not given[0].startswith("-") else given
    command, reason = _read_command(["build", *read])
    if command.subcommand is None:
        # Outside a project dbt's complaint is about a missing profiles folder: say what is
        # really wrong.
        param = getattr(reason, "param", None)
        missing = _missing_project(given) if getattr(param, "name", "") == "profiles_dir" else None
        if missing:
            raise OrcError(missing)
        raise OrcError(
            f"{orc_command} reads the arguments of `dbt build`, and dbt rejects "
            f"`{shlex.join(given)}`: {_suggest(reason, own_options)} (node names go first or "
            f"after --select; see `{orc_command.strip('`')} --help` and `orc dbt build --help`)"
        )
    return command


def _missing_project(args: Sequence[str]) -> str | None:
    """Why there is no dbt project to work on, if there is none."""
    given = [a for a in args if a == "--project-dir" or a.startswith("--project-dir=")]
    if given:
        return None  # dbt reports a --project-dir without dbt_project.yml itself
    folder = os.environ.get("DBT_PROJECT_DIR")
    if folder:
        if (Path(folder) / "dbt_project.yml").is_file():
            return None
        return (
            f"no dbt project: DBT_PROJECT_DIR is {folder}, which has no dbt_project.yml; "
            "set it to your dbt project's folder"
        )
    here = Path.cwd()
    if any((path / "dbt_project.yml").is_file() for path in (here, *here.parents)):
        return None
    return (
        f"no dbt project: there is no dbt_project.yml in {here} or any folder above it; "
        "run orc in your dbt project's folder, or pass --project-dir"
    )


def _suggest(reason: str | click.ClickException, own_options: Sequence[str]) -> str:
    """dbt's reason for rejecting a line, with suggestions among `own_options` as well."""
    if not isinstance(reason, click.NoSuchOption):
        text = reason.format_message() if isinstance(reason, click.ClickException) else reason
        return " ".join(text.split())
    names = [n for p in cli.commands["build"].params for n in p.opts if n.startswith("--")]
    close = difflib.get_close_matches(reason.option_name, [*own_options, *names])
    found = f"No such option {reason.option_name!r}"
    if not close:
        return found
    return f"{found}. Did you mean {' or '.join(repr(name) for name in close)}?"


def _read_command(args: Sequence[str]) -> tuple[DbtCommand, str | click.ClickException]:
    """The command line as dbt reads it and, when dbt rejects it, why (else "")."""
    rejected = DbtCommand(tuple(args), None, {})
    try:
        contexts = _contexts(args)
    except click.exceptions.ClickException as error:
        return rejected, error
    except click.exceptions.Exit:
        return rejected, "they ask for dbt's help or version"
    if contexts is None:
        return rejected, "no dbt command"
    root, sub = contexts
    name = sub.info_name
    params = {
        key: value
        for ctx in (root, sub)
        for key, value in ctx.params.items()
        if ctx.get_parameter_source(key) == ParameterSource.COMMANDLINE
    }
    return DbtCommand(tuple(args), name, params), ""


def _contexts(args: Sequence[str]) -> tuple[click.Context, click.Context] | None:
    """dbt's click contexts of a command line: the root's and its subcommand's (None when it
    names no subcommand). Raises click's errors."""
    # dbt's eager options (--help, --version) print as they are parsed: this reading prints
    # nothing, since dbt itself prints them when the line passes through.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # Click 8.2+ deprecates `protected_args` (the subcommand's name); Click 9 will
        # leave everything in `args`.
        warnings.simplefilter("ignore", DeprecationWarning)
        root = cli.make_context(DBT_PROGRAM, list(args))
        protected = list(getattr(root, "protected_args", ()))
        name, command, rest = cli.resolve_command(root, [*protected, *root.args])
        if command is None or name is None:
            return None
        return root, command.make_context(name, list(rest), parent=root)


def command_flags(command: DbtCommand) -> Any:
    """dbt's `Flags` for this command line, as dbt's preflight makes them when it runs it
    (what `flags` and `invocation_args_dict` hold for a hook orc renders)."""
    from dbt.cli.flags import Flags

    contexts = _contexts(command.args)
    if contexts is None:
        raise OrcError(f"dbt reads no command in `{shlex.join(command.args)}`")
    return Flags(contexts[1])


# dbt's flags that decide what its console shows, and how.
CONSOLE_FLAGS = ("log_format", "log_level", "quiet", "debug")


def console_flags(command: DbtCommand) -> dict[str, Any]:
    """The flags that shape dbt's console lines, as dbt resolves them for this command line:
    given before or after the subcommand, from DBT_* variables, or from the `flags:` of
    dbt_project.yml. Empty for a line dbt rejects (dbt then says why itself)."""
    if command.subcommand is None:
        return {}
    try:
        flags = command_flags(command)
    except Exception:  # dbt rejects the line when it runs it, in its own words
        return {}
    return {name: getattr(flags, name.upper(), None) for name in CONSOLE_FLAGS}


def accepted_params(subcommand: str) -> set[str]:
    """The parameter names dbt accepts for `subcommand` (its own and the global ones)."""
    command = cli.commands[subcommand]
    return {p.name for p in [*cli.params, *command.params] if p.name}


def exit_code(result: dbtRunnerResult) -> int:
    """dbt's own exit codes: 0 success, 1 a node failed, 2 usage or runtime error."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def run_dbt(args: Sequence[str]) -> int:
    """Run dbt exactly as the `dbt` program would, messages and usage lines included, and
    return its exit code."""
    try:
        result = cli.main(list(args), prog_name=DBT_PROGRAM, standalone_mode=False)
    except click.exceptions.ClickException as error:
        # Usage errors print dbt's usage line and suggestions; dbt's own exits print nothing.
        error.show()
        return error.exit_code
    if isinstance(result, int):  # click.exceptions.Exit: --help, --version
        return result
    _, success = result
    return 0 if success else 1
