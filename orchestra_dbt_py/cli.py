"""The `orc` command line, on click: `orc dbt`, `orc plan` and the `orc state` commands.

Only click and this package's errors are imported up front: dbt and the rest of the package
are imported inside the commands, so that `orc --version` and `orc --help` stay fast.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestra_dbt_py import __version__
from orchestra_dbt_py.errors import OrcError

if TYPE_CHECKING:
    from orchestra_dbt_py.config import Settings
    from orchestra_dbt_py.dbt.command import DbtCommand

DBT_HELP_HEADER = """\
orc dbt: runs dbt with these arguments, exactly as `dbt` would, and exits with dbt's code.
With use_stateful on, `build`, `run` and `test` reuse the nodes the state shows unchanged;
orc's own commands and settings: `orc --help`. dbt's help follows.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `orc` with these arguments (the process's by default); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = orc.main(args, prog_name="orc", standalone_mode=False)
        sys.stdout.flush()
    except OrcError as error:
        from orchestra_dbt_py.report import console

        console.error(str(error))
        return error.exit_code
    except BrokenPipeError:
        return _stdout_closed()
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):
            raise abort.__cause__ from None
        click.echo("Aborted!", err=True)
        return 1
    except Exception as error:  # a bug in orc: one line, the traceback on request
        return _unexpected(error)
    return result if isinstance(result, int) else 0


def _unexpected(error: Exception) -> int:
    from orchestra_dbt_py.errors import one_line
    from orchestra_dbt_py.report import console

    if os.environ.get("ORCHESTRA_DBT_DEBUG", "").lower() == "true":
        import traceback

        traceback.print_exception(error)
    console.error(
        f"orc stopped on an unexpected {type(error).__name__} ({one_line(error)}), a bug in orc: "
        "please report it with the traceback that ORCHESTRA_DBT_DEBUG=true prints"
    )
    return 2


def _stdout_closed() -> int:
    # The reader went away (`orc state show | head`): stop quietly, as a SIGPIPE would.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _format_possibilities(names: Sequence[str]) -> str:
    listed = ", ".join(repr(name) for name in sorted(names))
    return f"Did you mean {listed}?" if len(names) == 1 else f"(Did you mean one of: {listed}?)"


class OrcGroup(click.Group):
    """A click group that suggests commands for typos and turns a closed stdout into the
    exit status of a SIGPIPE (click would exit 1)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            name = args[0] if args else ""
            if getattr(error, "possibilities", None) or not name or name.startswith("-"):
                raise
            from difflib import get_close_matches

            # Click before 8.4 suggests nothing for a misspelt command.
            close = get_close_matches(name, self.list_commands(ctx))
            if close:
                message = f"No such command {name!r}. {_format_possibilities(close)}"
            elif ctx.parent is None:
                import shlex

                message = f"No such command {name!r}; did you mean `orc dbt {shlex.join(args)}`?"
            else:
                raise
            raise click.UsageError(message, ctx) from None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            return _stdout_closed()


def output_options(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--output text|json` (`-o`) and its alias `--json`, read into one `output` value."""

    def use_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta["orc_output"] = "json"

    def output(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
        return value or ctx.meta.get("orc_output", "text")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--output",
            "-o",
            type=click.Choice(["text", "json"]),
            callback=output,
            help=f"{help_text}  [default: text]",
        )(command)
        return click.option(
            "--json",
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=use_json,
            help="The same as --output json.",
        )(command)

    return decorate


wide_option = click.option(
    "--wide",
    is_flag=True,
    help="Show long names and reasons whole. Without it, the table fits the terminal "
    "(cut with …), and output to a file or a pipe is whole; --output json has everything.",
)


class PassThroughCommand(click.Command):
    """A command whose arguments all go on unchanged: click's parser would drop a `--`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        super().parse_args(ctx, list(args))
        ctx.args = list(args)
        return ctx.args


@click.group(
    cls=OrcGroup,
    invoke_without_command=True,
    subcommand_metavar="COMMAND [ARGS]...",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", "-V", message="orc %(version)s")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Build what the plan says even when another live run is building the same nodes "
    "(the same as ORCHESTRA_WAIT_FOR_OTHER_RUNS=false).",
)
@click.option(
    "--max-wait",
    # The range the settings accept (config.py), so click names the option when it is not.
    type=click.FloatRange(min=0, min_open=True, max=10**9, max_open=True),
    metavar="SECONDS",
    help="Wait at most this long for nodes another run is building, then build them "
    "(the same as ORCHESTRA_MAX_WAIT_SECONDS; default 3600).",
)
@click.pass_context
def orc(ctx: click.Context, no_wait: bool, max_wait: float | None) -> None:
    """State-aware dbt: build only what changed since the last run.

    `orc dbt build` (or run, test) with stateful orchestration on plans from the
    recorded state, runs dbt on what must run and records each result; every other dbt
    command runs unchanged.
    """
    from orchestra_dbt_py.report import console

    console.configure({})  # orc's lines follow a dbt command's flags once it is read
    # The options win over the environment and the pyproject (see `current_settings`).
    overrides: dict[str, bool | float | str] = {}
    if no_wait:
        overrides["wait_for_other_runs"] = False
    if max_wait is not None:
        overrides["max_wait_seconds"] = max_wait
    ctx.obj = overrides
    if ctx.invoked_subcommand is None:
        raise OrcError(
            "no command given: try `orc dbt build` (dbt build, reusing what is unchanged), "
            "`orc plan`, or `orc --help` for every command"
        )


@orc.command(
    "dbt",
    cls=PassThroughCommand,
    options_metavar="[DBT ARGUMENTS]...",
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
    short_help="Run dbt with these arguments (stateful for build, run, test and retry).",
)
@click.pass_context
def dbt(ctx: click.Context) -> int:
    """Run dbt with these arguments, exactly as `dbt` would, and exit with dbt's code.

    With stateful orchestration on, `build`, `run` and `test` reuse the nodes the state
    says are unchanged, and `retry` reruns what failed (never what was reused).
    `orc dbt --help` is dbt's help.
    """
    if ctx.args in (["--help"], ["-h"]):
        click.echo(DBT_HELP_HEADER)
    return dbt_command(list(ctx.args))


def current_settings(command: DbtCommand | None = None) -> Settings:
    """This invocation's settings: orc's own options (kept by the `orc` group in the click
    context) over the ORCHESTRA_* variables over the pyproject: the one of the dbt project
    the command names (--project-dir, DBT_PROJECT_DIR), else the working directory's."""
    from orchestra_dbt_py.config import load_settings

    ctx = click.get_current_context(silent=True)
    overrides = ctx.find_object(dict) if ctx is not None else None
    named = command.params.get("project_dir") if command is not None else None
    project_dir = named or os.environ.get("DBT_PROJECT_DIR", "").strip() or None
    folder = Path(project_dir) if project_dir else None
    return load_settings(Path.cwd(), os.environ, overrides, project_dir=folder)


def dbt_command(args: list[str]) -> int:
    from orchestra_dbt_py.dbt.command import STATEFUL_SUBCOMMANDS, parse_command, run_dbt

    command = parse_command(args)
    settings = current_settings(command)
    if command.subcommand not in STATEFUL_SUBCOMMANDS | {"retry"}:
        return run_dbt(args)
    _follow_console_flags(command, settings)
    if not settings.use_stateful:
        code = run_dbt(args)
        if not settings.use_stateful_given:
            _say_stateful_off(command)
        return code
    from orchestra_dbt_py.runner import run_retry, run_stateful

    if command.subcommand == "retry":
        return run_retry(command, settings, os.environ)
    return run_stateful(command, settings, os.environ)


def _follow_console_flags(command: DbtCommand, settings: Settings) -> None:
    """orc's lines (its errors too) follow dbt's console flags from here on."""
    from orchestra_dbt_py.dbt.command import console_flags
    from orchestra_dbt_py.dbt.invocation import invocation_id
    from orchestra_dbt_py.report import console

    console.configure(console_flags(command), invocation_id=invocation_id, debug=settings.debug)


def _say_stateful_off(command: DbtCommand) -> None:
    """One line after a plain `dbt build|run|test` that nobody chose: how to make it stateful."""
    from orchestra_dbt_py.report import console

    console.say(
        f"stateful orchestration is off, so this was plain `dbt {command.subcommand}`: set "
        "use_stateful = true under [tool.orchestra_dbt] in pyproject.toml (or "
        "ORCHESTRA_USE_STATEFUL=true) to reuse what is unchanged, or "
        "ORCHESTRA_USE_STATEFUL=false to keep it off without this line"
    )


@orc.command(
    "plan",
    context_settings={"ignore_unknown_options": True},
    short_help="Show what `orc dbt build` would build and reuse, and why.",
)
@output_options("A table, or the JSON document of target/orc_plan.json.")
@wide_option
@click.option(
    "--html",
    type=click.Path(path_type=Path),  # a directory is refused with orc's own message
    help="Also write a self-contained HTML page of the plan's DAG to this file.",
)
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED, metavar="[DBT BUILD ARGUMENTS]...")
def plan(output: str, wide: bool, html: Path | None, dbt_args: tuple[str, ...]) -> int:
    """Show what `orc dbt build` would build and reuse, and why, after read-only
    warehouse queries; nothing is built or saved.

    The remaining arguments are those of `dbt build` (--select, --exclude, --target,
    --vars, --full-refresh...): they pass through to dbt unchanged. Names before the
    first option are the selection: `orc plan stg_orders+` is `orc plan --select stg_orders+`.
    """
    return plan_command(list(dbt_args), output, html, wide)


def plan_command(args: list[str], output: str, html: Path | None, wide: bool = False) -> int:
    if html is not None and html.is_dir():
        from orchestra_dbt_py.report.html import HTML_ARTIFACT

        raise OrcError(
            f"--html {html} is a directory: give the path of a file to write, "
            f"such as {html / HTML_ARTIFACT}"
        )
    from orchestra_dbt_py.dbt.command import parse_build_arguments
    from orchestra_dbt_py.runner import show_plan

    command = parse_build_arguments(args, "`orc plan`", ("--output", "--json", "--html", "--wide"))
    settings = current_settings(command)
    _follow_console_flags(command, settings)
    return show_plan(
        command, settings, os.environ, as_json=output == "json", html_path=html, wide=wide
    )


@orc.group("state", cls=OrcGroup, short_help="Create, show, check, edit and copy the state.")
def state() -> None:
    """Create, inspect, check and edit the state: the record of what was built, when, and
    from which code and data.

    The state is where the settings say ([tool.orchestra_dbt] state_file in
    pyproject.toml, ORCHESTRA_STATE_FILE or ORCHESTRA_API_KEY).
    """


@state.command("init", short_help="Create the state unless it exists.")
def state_init() -> int:
    """Create the state (a file, an S3 object, the Orchestra API's or a warehouse table)
    unless it exists."""
    from orchestra_dbt_py.cli_state import init_command

    return init_command(current_settings())


@state.command("show", short_help="List the records of the state.")
@output_options("A table, or the state document as JSON.")
@wide_option
def state_show(output: str, wide: bool) -> int:
    """List the records of the state: each node, when it was built, its status and the
    sources it read."""
    from orchestra_dbt_py.cli_state import show_command

    return show_command(current_settings(), output == "json", wide)


@state.command("validate", short_help="Check the state, or state files, can be read.")
@click.argument("files", nargs=-1, metavar="[FILE]...")
def state_validate(files: tuple[str, ...]) -> int:
    """Check that each FILE, or else the state, is a valid state document."""
    from orchestra_dbt_py.cli_state import validate_command

    return validate_command(current_settings(), files)


@state.command(
    "forget",
    context_settings={"ignore_unknown_options": True},
    short_help="Drop the records of the selected nodes, so that they are rebuilt.",
)
@click.option("--all", "everything", is_flag=True, help="Forget every record.")
@click.argument("selection", nargs=-1, type=click.UNPROCESSED, metavar="[DBT SELECTION]...")
def state_forget(everything: bool, selection: tuple[str, ...]) -> int:
    """Drop the records of the nodes a dbt selection names, or of every node with --all,
    so that the next run rebuilds them. With a selection, only the records of the dbt
    target it runs in (`--target`) go; --all drops every target's.

    The selection is read as `orc plan` reads it (the arguments of `dbt build`; names
    before the first option are the selection): `orc state forget stg_orders+` or
    `orc state forget --select stg_orders+ --exclude tag:slow`. A selection that
    matches nothing forgets nothing."""
    if everything and selection:
        raise click.UsageError("--all takes no dbt selection")
    from orchestra_dbt_py.cli_state import forget
    from orchestra_dbt_py.dbt.command import parse_build_arguments

    # Parsed first: the settings are those of the project the selection runs in.
    command = None
    if not everything:
        command = parse_build_arguments(list(selection), "`orc state forget`", ("--all",))
    return forget(current_settings(command), command)


@state.command("push", short_help="Send the records a failed save left in FILE.")
@click.argument("file")
def state_push(file: str) -> int:
    """Send the records in FILE to the state: the file a failed save wrote (named
    like .orchestra/unsaved-state-*.json) and named in its error message."""
    from orchestra_dbt_py.cli_state import push_command

    return push_command(current_settings(), file)


@state.command(
    "migrate",
    options_metavar="--from URI --to URI",
    short_help="Copy every record of one state into another.",
)
@click.option("--from", "source", required=True, metavar="URI", help="The state to copy.")
@click.option("--to", "target", required=True, metavar="URI", help="The state to copy to.")
def state_migrate(source: str, target: str) -> int:
    """Copy every record of one state into another.

    A URI is a local path, s3://bucket/key, warehouse:<schema>.<table> (in the dbt project
    of the working directory), or orchestra:// for the Orchestra API.
    """
    from orchestra_dbt_py.cli_state import migrate_command

    return migrate_command(current_settings(), source, target)


if __name__ == "__main__":
    sys.exit(main())
