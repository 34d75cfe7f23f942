"""What a user sees when the command line goes wrong: dbt's own words once, orc's one line
of context, and a suggestion for every typo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.tutorial import Project, run_orc


def orc_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRA_", "DBT_"))}
    environment.update({"DO_NOT_TRACK": "1", "HOME": str(folder), **env})
    return run_orc(args, folder, environment, expect=None)


@pytest.mark.parametrize(
    ("args", "usage", "hint"),
    [
        (
            ["build", "--slect", "foo"],
            "Usage: dbt build [OPTIONS]",
            "No such option '--slect'. "
            "(Did you mean one of: '--sample', '--select', '--selector'?)",
        ),
        (["biuld"], "Usage: dbt [OPTIONS]", "No such command 'biuld'. Did you mean 'build'?"),
    ],
)
@pytest.mark.parametrize("stateful", ["true", "false"])
def test_pass_through_keeps_dbts_usage_line_and_suggestions(
    tmp_path: Path, args: list[str], usage: str, hint: str, stateful: str
) -> None:
    result = orc_in(tmp_path, "dbt", *args, ORCHESTRA_USE_STATEFUL=stateful)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(usage)
    assert f"Error: {hint}" in result.stderr
    assert result.stderr.count("Error:") == 1 and "orc: error" not in result.stderr


def test_dbt_version_prints_once(tmp_path: Path) -> None:
    from dbt.version import __version__ as dbt_version

    result = orc_in(tmp_path, "dbt", "--version", DBT_VERSION_CHECK="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Core:") == 1
    assert f"installed: {dbt_version}" in result.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_dbt_help_names_the_program_dbt_after_one_line_about_orc(tmp_path: Path, flag: str) -> None:
    result = orc_in(tmp_path, "dbt", flag)
    assert result.returncode == 0, result.stderr
    header, dbt_help = result.stdout.split("\n\n", 1)
    assert header.startswith("orc dbt: runs dbt with these arguments")
    assert dbt_help.startswith("Usage: dbt [OPTIONS]")
    assert "Usage: cli" not in result.stdout
    build_help = orc_in(tmp_path, "dbt", "build", "--help")
    assert build_help.stdout.startswith("Usage: dbt build [OPTIONS]")
    assert build_help.stdout.count("Usage:") == 1  # printed by dbt only, not also on parsing


@pytest.mark.parametrize("command", [["plan"], ["state", "forget", "stg_orders"]])
def test_outside_a_project_says_so(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.orchestra_dbt]\nstate_file = "state.json"\n')
    result = orc_in(tmp_path, *command)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"orc: error: no dbt project: there is no dbt_project.yml in {tmp_path} or any folder "
        "above it; run orc in your dbt project's folder, or pass --project-dir\n"
    )
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["plan", "--outptu", "json"], "Did you mean '--output'?"),
        (["plan", "--htm", "x.html"], "Did you mean '--html'?"),
        (["state", "forget", "--al"], "Did you mean '--all'"),
        (["state", "forget", "--slect", "x"], "Did you mean '--select'"),
    ],
)
def test_typos_in_orc_commands_get_suggestions_from_orc_and_dbt(
    tmp_path: Path, args: list[str], suggestion: str
) -> None:
    (tmp_path / "profiles.yml").write_text("{}\n")
    result = orc_in(tmp_path, *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert suggestion in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
@pytest.mark.parametrize("command", [["plan"], ["dbt", "build"]])
def test_a_wrong_target_is_dbts_message_once(project: Project, command: list[str]) -> None:
    project.env["ORCHESTRA_USE_STATEFUL"] = "true"
    project.orc("state", "init")
    result = project.orc(*command, "--target", "nope", expect=2)
    output = result.stdout + result.stderr
    assert output.count("does not have a target named 'nope'") == 1
    assert "- duckdb" in output  # dbt's own list of the valid targets
    assert result.stderr.strip() == (
        "orc: error: dbt could not parse the project (dbt's error is above); nothing was run"
    )


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_what_dbt_warns_about_is_shown_once(built: Project) -> None:
    """A patch of no model (a parse warning) and a selection that matches nothing: dbt's own
    words, once, from `orc plan` and `orc dbt build` alike, and none of `dbt ls`'s."""
    patch = "Did not find matching node for patch with name 'no_such_model'"
    nothing = "The selection criterion 'no_such_model' does not match any enabled nodes"
    commands = {"plan": ["plan", "no_such_model"], "build": ["dbt", "build", "-s", "no_such_model"]}
    for description, command in commands.items():
        # A changed file: dbt parses it again, and warns again.
        (built.dir / "models" / "extra.yml").write_text(
            f"version: 2\nmodels:\n  - name: no_such_model\n    description: {description}\n"
        )
        output = built.orc(*command).stdout
        assert (output.count(patch), output.count(nothing)) == (1, 1), output
        assert "No nodes selected" not in output, output
