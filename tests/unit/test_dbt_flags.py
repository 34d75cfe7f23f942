"""dbt's console flags as dbt reads them (before or after the subcommand, DBT_* variables,
the `flags:` of dbt_project.yml) shape orc's lines; a plain `orc dbt build` nobody chose
says once how to make it stateful; the settings are those of the project dbt runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py import cli, runner
from orchestra_dbt_py.dbt import command as dbt_command
from orchestra_dbt_py.dbt.command import CONSOLE_FLAGS, console_flags, parse_command
from orchestra_dbt_py.report import console

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

# A value other than dbt's default for each console flag, as the command line, a DBT_*
# variable and dbt_project.yml write it.
GIVEN: dict[str, tuple[list[str], str, str, Any]] = {
    "log_format": (["--log-format", "json"], "json", "json", "json"),
    "log_level": (["--log-level", "warn"], "warn", "warn", "warn"),
    "quiet": (["--quiet"], "true", "true", True),
    "debug": (["--debug"], "true", "true", True),
}
OFF = "stateful orchestration is off"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty dbt project with no orc settings, as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    for key in [k for k in os.environ if k.startswith(("ORCHESTRA_", "DBT_"))]:
        if key != "DBT_PROFILES_DIR":
            monkeypatch.delenv(key)
    write_project(tmp_path)
    yield tmp_path
    console.configure({})


def write_project(folder: Path, flags: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "name: p\nversion: '1.0'\nconfig-version: 2\nprofile: p\n"
    (folder / "dbt_project.yml").write_text(text + (f"flags:\n  {flags}\n" if flags else ""))


def test_every_console_flag_is_covered() -> None:
    assert set(GIVEN) == set(CONSOLE_FLAGS)


@pytest.mark.parametrize("name", CONSOLE_FLAGS)
def test_a_console_flag_means_the_same_wherever_dbt_reads_it(
    name: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    option, variable, in_file, value = GIVEN[name]
    default = console_flags(parse_command(["build"]))[name]
    assert default != value
    assert console_flags(parse_command([*option, "build"]))[name] == value
    assert console_flags(parse_command(["build", *option]))[name] == value
    # dbt_project.yml's `flags:` hold some of them only (`quiet` is not one): as dbt reads it.
    from dbt.contracts.project import ProjectFlags

    write_project(project, f"{name}: {in_file}")
    from_file = value if name in ProjectFlags.__dataclass_fields__ else default
    assert console_flags(parse_command(["build"]))[name] == from_file
    write_project(project)
    monkeypatch.setenv(f"DBT_{name.upper()}", variable)
    assert console_flags(parse_command(["build"]))[name] == value


def test_a_line_dbt_rejects_leaves_the_default_console() -> None:
    twice = ["--log-format", "json", "build", "--log-format", "text"]
    assert console_flags(parse_command(twice)) == {}


@pytest.fixture
def stateful_run(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What a stateful run would say, without dbt: its settings are kept."""
    seen: list[Any] = []

    def run_stateful(command: Any, settings: Any, env: Any) -> int:
        seen.append(settings)
        with runner.orc_lines(command, settings):
            console.say("plan: 0 to run, 1 to reuse of 1 selected")
            console.say("  reuse  model.p.m: unchanged", "debug")
        return 0

    monkeypatch.setattr(runner, "run_stateful", run_stateful)
    monkeypatch.setattr(dbt_command, "run_dbt", lambda args: 0)
    return seen


def orc(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out.splitlines()


def test_orc_lines_follow_flags_given_before_the_subcommand(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stateful_run: list[Any]
) -> None:
    monkeypatch.setenv("ORCHESTRA_USE_STATEFUL", "true")
    json_lines = orc(capsys, "dbt", "--log-format", "json", "build")
    assert [json.loads(line)["info"]["level"] for line in json_lines] == ["info"]
    assert orc(capsys, "dbt", "--quiet", "build") == []
    debug = orc(capsys, "dbt", "--debug", "build")
    assert debug[-1].endswith("orc:   reuse  model.p.m: unchanged"), debug


def test_a_plain_build_nobody_chose_says_once_how_to_turn_it_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stateful_run: list[Any]
) -> None:
    [line] = orc(capsys, "dbt", "build")
    assert OFF in line and "use_stateful = true" in line and "ORCHESTRA_USE_STATEFUL" in line
    [line] = orc(capsys, "dbt", "--log-format", "json", "run")
    assert OFF in json.loads(line)["info"]["msg"]
    # Not for commands orc never makes stateful, under --quiet, or when it was turned off.
    assert orc(capsys, "dbt", "ls") == []
    assert orc(capsys, "dbt", "test", "--quiet") == []
    monkeypatch.setenv("ORCHESTRA_USE_STATEFUL", "false")
    assert orc(capsys, "dbt", "build") == []
    assert stateful_run == []


def test_the_settings_are_those_of_the_project_dbt_runs(
    capsys: pytest.CaptureFixture[str],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    stateful_run: list[Any],
) -> None:
    (project / "pyproject.toml").write_text("[tool.orchestra_dbt]\nuse_stateful = false\n")
    elsewhere = project / "elsewhere"
    write_project(elsewhere)
    (elsewhere / "pyproject.toml").write_text(
        '[tool.orchestra_dbt]\nuse_stateful = true\nstate_file = "s.json"\n'
    )
    orc(capsys, "dbt", "build", "--project-dir", "elsewhere")
    monkeypatch.setenv("DBT_PROJECT_DIR", str(elsewhere))
    orc(capsys, "dbt", "build")
    assert [s.state_file for s in stateful_run] == [str(elsewhere / "s.json")] * 2
    # A project with no settings of its own: the working directory's.
    monkeypatch.setenv("DBT_PROJECT_DIR", str(project / "bare"))
    write_project(project / "bare")
    assert orc(capsys, "dbt", "build") == []
    assert len(stateful_run) == 2
