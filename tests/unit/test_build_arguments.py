"""How `orc plan` and `orc state forget` read their dbt build arguments: one reading, as dbt
reads them, with bare names as the selection; what dbt rejects is a one-line error before
any project is parsed or any state is touched."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py import cli, runner

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

RECORDS = '{"state": {"model.p.a": {"last_updated": "2026-11-22T07:00:00Z", "checksum": "c"}}}'


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with an orc state and no dbt project; dbt's profiles folder exists."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    for key in [k for k in os.environ if k.startswith("ORCHESTRA_")]:
        monkeypatch.delenv(key)
    (tmp_path / "pyproject.toml").write_text('[tool.orchestra_dbt]\nstate_file = "state.json"\n')
    (tmp_path / "state.json").write_text(RECORDS)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The commands `orc plan` would plan (nothing is parsed)."""
    seen: list[Any] = []

    def show_plan(command: Any, *args: Any, **kwargs: Any) -> int:
        seen.append(command)
        return 0

    monkeypatch.setattr(runner, "show_plan", show_plan)
    return seen


@pytest.mark.parametrize(
    ("args", "params"),
    [
        (["stg_orders"], {"select": ("stg_orders",)}),
        (["a", "b+", "--exclude", "c"], {"select": ("a", "b+"), "exclude": ("c",)}),
        (["a", "--select", "b", "-t", "pg"], {"select": ("a", "b"), "target": "pg"}),
        (["--select", "a", "--full-refresh"], {"select": ("a",), "full_refresh": True}),
        ([], {}),
    ],
)
def test_plan_reads_bare_names_as_the_selection(
    capsys: pytest.CaptureFixture[str],
    planned: list[Any],
    args: list[str],
    params: dict[str, Any],
) -> None:
    assert run(capsys, "plan", *args)[0] == 0
    assert [(c.subcommand, dict(c.params)) for c in planned] == [("build", params)]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--slect", "x"], "No such option '--slect'"),
        (["--target", "pg", "stray"], "unexpected extra argument (stray)"),
        (["--threads", "many"], "'many' is not a valid integer"),
        (["--select"], "'--select' requires an argument"),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["state", "forget"]])
def test_what_dbt_rejects_is_one_line_and_touches_nothing(
    capsys: pytest.CaptureFixture[str],
    planned: list[Any],
    in_empty_folder: Path,
    command: list[str],
    args: list[str],
    reason: str,
) -> None:
    code, out, err = run(capsys, *command, *args)
    assert (code, out, planned) == (2, "", [])
    assert err.startswith(f"orc: error: `orc {' '.join(command)}` reads ")
    assert reason in err and err.count("\n") == 1
    assert (in_empty_folder / "state.json").read_text() == RECORDS


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--target", "duckdb"],
        ["--exclude", "a"],
        ["--resource-type", "model"],
        ["--select", ""],
        ["--select", " "],
        [""],
        ["--selector", ""],
    ],
)
def test_forget_never_reads_no_selection_as_all(
    capsys: pytest.CaptureFixture[str], in_empty_folder: Path, args: list[str]
) -> None:
    code, out, err = run(capsys, "state", "forget", *args)
    assert (code, out) == (2, "")
    assert err.startswith("orc: error: `orc state forget` needs a selection that names nodes")
    assert "--all" in err and err.count("\n") == 1
    assert (in_empty_folder / "state.json").read_text() == RECORDS


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], (True, 200.0)),
        (["--no-wait"], (False, 200.0)),
        (["--max-wait", "5"], (True, 5.0)),
        (["--no-wait", "--max-wait", "0.5"], (False, 0.5)),
    ],
)
@pytest.mark.parametrize("command", [["plan"], ["state", "show"]])
def test_orc_options_reach_the_settings_and_never_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    expected: tuple[bool, float],
    command: list[str],
) -> None:
    """`--no-wait` and `--max-wait` win over ORCHESTRA_* variables, and are handed to the
    settings as arguments: dbt and every subprocess see the environment as it was."""
    from orchestra_dbt_py import cli_state

    monkeypatch.setenv("ORCHESTRA_WAIT_FOR_OTHER_RUNS", "true")
    monkeypatch.setenv("ORCHESTRA_MAX_WAIT_SECONDS", "200")
    seen: list[Any] = []

    def show_plan(command: Any, settings: Any, *args: Any, **kwargs: Any) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr(runner, "show_plan", show_plan)
    monkeypatch.setattr(
        cli_state, "show_command", lambda settings, as_json, wide=False: seen.append(settings)
    )
    before = dict(os.environ)
    assert run(capsys, *options, *command)[0] == 0
    assert dict(os.environ) == before
    assert [(s.wait_for_other_runs, s.max_wait_seconds) for s in seen] == [expected]


@pytest.mark.parametrize("seconds", ["0", "-5", "1e10", "soon"])
def test_a_max_wait_out_of_range_names_the_option(
    capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    """The option accepts what the settings accept (above 0, below 10^9): anything else is
    click's usage error naming `--max-wait`, before orc reads any setting."""
    code, _, err = run(capsys, "--max-wait", seconds, "plan")
    assert code == 2
    assert "Invalid value for '--max-wait'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_in_orc_is_one_line_and_exit_2_with_the_traceback_on_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    def show_plan(*args: Any, **kwargs: Any) -> int:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(runner, "show_plan", show_plan)
    if debug:
        monkeypatch.setenv("ORCHESTRA_DBT_DEBUG", "true")
    code, _, err = run(capsys, "plan")
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("orc: error:")]
    assert len(errors) == 1, err
    assert "unexpected OverflowError (date value out of range), a bug in orc" in errors[0]
    assert ("Traceback" in err) is debug, err
