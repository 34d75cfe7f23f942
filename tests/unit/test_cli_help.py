"""The `orc` command line itself: help pages, typos, the version, and what reaches the
commands; nothing here runs dbt or opens a state."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestra_dbt_py import __version__, cli
from orchestra_dbt_py.errors import OrcError

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    code, out, err = run(capsys, flag)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: orc [OPTIONS] COMMAND [ARGS]...")
    commands = out.split("Commands:")[1].split()
    assert {"dbt", "plan", "state"} <= set(commands)
    assert "--version" in out


def test_plan_help_shows_its_options_and_the_pass_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "--help")
    assert code == 0
    assert out.startswith("Usage: orc plan [OPTIONS] [DBT BUILD ARGUMENTS]...")
    assert "--output [text|json]" in out and "--html" in out
    assert "`dbt build`" in out and "pass through" in out


@pytest.mark.parametrize("command", [["plan"], ["state", "show"]])
def test_json_output_has_an_alias(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`--output json` (`-o json`) everywhere orc prints data, and `--json` as its alias."""
    seen: list[str] = []
    monkeypatch.setattr(cli, "plan_command", lambda args, output, html, wide: seen.append(output))
    from orchestra_dbt_py import cli_state

    monkeypatch.setattr(
        cli_state,
        "show_command",
        lambda settings, as_json, wide: seen.append("json" if as_json else "text"),
    )
    for flags in (["--json"], ["--output", "json"], ["-o", "json"], [], ["-o", "text"]):
        assert run(capsys, *command, *flags)[0] == 0
    assert seen == ["json", "json", "json", "text", "text"]
    _, out, _ = run(capsys, *command, "--help")
    assert "--json" in out and "-o, --output [text|json]" in out


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("show", "--json"),
        ("push", "FILE"),
        ("forget", "--all"),
        ("init", "Create"),
        ("validate", "FILE"),
        ("migrate", "--from URI"),
    ],
)
def test_each_state_command_has_its_own_help(
    capsys: pytest.CaptureFixture[str], command: str, mentions: str
) -> None:
    code, out, err = run(capsys, "state", command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: orc state {command} ")
    assert mentions in out


def test_state_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "state", "-h")
    assert code == 0
    commands = set(out.split("Commands:")[1].split())
    assert {"init", "show", "validate", "forget", "push", "migrate"} <= commands


def test_a_typo_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plna")
    assert (code, out) == (2, "")
    assert "No such command 'plna'. Did you mean 'plan'?" in err
    assert "Usage: orc " in err


def test_a_state_typo_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "state", "shwo")
    assert code == 2
    assert "No such command 'shwo'. Did you mean 'show'?" in err


def test_a_dbt_command_without_dbt_suggests_orc_dbt(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run", "--select", "a b")
    assert code == 2
    assert "did you mean `orc dbt run --select 'a b'`?" in err


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_once(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    assert run(capsys, flag) == (0, f"orc {__version__}\n", "")


def test_no_command_is_one_line_of_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("orc: error: no command given: try `orc dbt build`")
    assert "`orc --help`" in err
    assert err.count("\n") == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["--no-such-option"],
        ["plan", "--output", "xml"],
        ["plan", "--output"],
        ["state", "push"],
        ["state", "push", "a", "b"],
        ["state", "migrate", "--from", "a"],
        ["state", "show", "extra"],
        ["state", "forget", "--all", "--select", "x"],
    ):
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, ""), args
        assert err.startswith(("Usage: orc", "Error: ")) and "Error: " in err, args


def test_dbt_arguments_pass_through_unchanged(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[list[str]] = []

    def dbt_command(args: list[str]) -> int:
        received.append(args)
        return 0

    monkeypatch.setattr(cli, "dbt_command", dbt_command)
    args = ["--help", "run", "-h", "-sfoo", "--vars", "{a: 1}", "--x=y", "--", "-V", "--version"]
    assert run(capsys, "dbt", *args)[0] == 0
    assert run(capsys, "dbt")[0] == 0
    assert received == [args, []]


def test_plan_reads_its_options_and_passes_the_rest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[list[str], str, Path | None, bool]] = []

    def plan_command(args: list[str], output: str, html: Path | None, wide: bool) -> int:
        received.append((args, output, html, wide))
        return 0

    monkeypatch.setattr(cli, "plan_command", plan_command)
    run(capsys, "plan", "--select", "a+", "-o", "json", "--target", "pg", "--html", "p.html")
    run(capsys, "plan", "--html=q.html", "--exclude", "b", "--wide")
    run(capsys, "plan")
    assert received == [
        (["--select", "a+", "--target", "pg"], "json", Path("p.html"), False),
        (["--exclude", "b"], "text", Path("q.html"), True),
        ([], "text", None, False),
    ]


def test_an_orc_error_is_one_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> int:
        raise OrcError("the state is locked", exit_code=3)

    monkeypatch.setattr(cli, "plan_command", fail)
    assert run(capsys, "plan") == (3, "", "orc: error: the state is locked\n")


def test_the_command_exit_code_is_returned(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "dbt_command", lambda args: 1)
    assert run(capsys, "dbt", "run")[0] == 1


def python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_cli_and_its_help_import_no_dbt() -> None:
    code = (
        "import sys\n"
        "from orchestra_dbt_py import cli\n"
        "for args in (['--version'], ['--help'], ['plan', '-h'], ['state', 'show', '-h']):\n"
        "    assert cli.main(args) == 0\n"
        "loaded = sorted(m for m in sys.modules if m == 'dbt' or m.startswith(('dbt.',\n"
        "    'orchestra_dbt_py.state', 'orchestra_dbt_py.config', 'orchestra_dbt_py.runner')))\n"
        "print(loaded, file=sys.stderr)\n"
    )
    proc = python(code)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip() == "[]"


def test_a_closed_stdout_ends_quietly_with_sigpipe_status() -> None:
    code = (
        "import sys\n"
        "from orchestra_dbt_py import cli\n"
        "def plan_command(*args):\n"
        "    for i in range(1_000_000):\n"
        "        print(f'line {i}')\n"
        "    return 0\n"
        "cli.plan_command = plan_command\n"
        "sys.exit(cli.main(['plan']))\n"
    )
    proc = python(code)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == "line 0\n"
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE
    assert err == ""


def test_plan_html_to_a_directory_is_one_line_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "plan", "--html", str(tmp_path), "--select", "a")
    assert (code, out) == (2, "")
    assert err.startswith(f"orc: error: --html {tmp_path} is a directory: ")
    assert str(tmp_path / "orc_plan.html") in err  # the fix: a file in it
    assert err.count("\n") == 1
