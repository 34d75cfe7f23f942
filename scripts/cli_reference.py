"""The README's command reference, made from the help pages of `orc` so that the two cannot
drift: `python scripts/cli_reference.py` prints it, `--write` puts it into README.md between
its markers, `--check` exits 1 when README.md differs (tests/unit/test_cli_reference.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from orchestra_dbt_py.cli import orc

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- command reference: made by scripts/cli_reference.py --write -->"
END = "<!-- end of command reference -->"


def _commands(
    command: click.Command, parent: click.Context | None, name: str
) -> Iterator[tuple[click.Context, click.Command]]:
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    yield ctx, command
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            found = command.get_command(ctx, sub)
            if found is not None and not found.hidden:
                yield from _commands(found, ctx, sub)


def reference() -> str:
    lines: list[str] = []
    for ctx, command in _commands(orc, None, "orc"):
        usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
        summary = command.get_short_help_str(limit=200) if ctx.parent else (command.help or "")
        lines += [f"- `{usage}`", f"  {summary.splitlines()[0]}"]
        for param in command.get_params(ctx):
            if isinstance(param, click.Argument):
                continue  # the usage line names them; click 8.1 and 8.2 differ on the rest
            record = param.get_help_record(ctx)
            if record is not None and "--help" not in record[0]:
                lines.append(f"  - `{record[0]}`: {' '.join(record[1].split())}")
    return "\n".join(lines) + "\n"


def _with_reference(readme: str) -> str:
    before, rest = readme.split(START + "\n", 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{reference()}{END}{after}"


def main(args: list[str]) -> int:
    if not args:
        print(reference(), end="")
        return 0
    current = README.read_text(encoding="utf-8")
    wanted = _with_reference(current)
    if args == ["--write"]:
        README.write_text(wanted, encoding="utf-8")
        return 0
    if current != wanted:
        print(
            "README.md's command reference differs from the help pages: run "
            "`python scripts/cli_reference.py --write`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
