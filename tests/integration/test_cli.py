"""`orc` as a dbt pass-through: same arguments, same results, same exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.tutorial import ORC, Project
from tests.support.tutorial import run_orc as run_orc_in

TUTORIAL_TABLES = {"int_order_payments", "fct_orders", "dim_customers", "orders_incremental"}
TUTORIAL_VIEWS = {"stg_customers", "stg_orders", "stg_payments"}


def test_parse_seed_build_pass_through(project: Project) -> None:
    project.orc("dbt", "parse")
    assert (project.dir / "target" / "manifest.json").exists()

    project.orc("dbt", "seed")
    assert "order_statuses" in project.relations()

    files_before = project.project_files()
    result = project.orc("dbt", "build")
    assert "Completed successfully" in result.stdout
    assert project.relations() >= TUTORIAL_TABLES | TUTORIAL_VIEWS
    statuses = project.run_results()
    assert statuses and all(s in {"success", "pass"} for s in statuses.values()), statuses
    assert project.query(f"select count(*) from {project.schema}.fct_orders")[0][0] > 0
    assert not (project.dir / "target" / "orc_plan.json").exists()
    assert project.project_files() == files_before


def test_failing_model_exits_1(project: Project) -> None:
    (project.dir / "models" / "marts" / "broken.sql").write_text(
        "select no_such_column from {{ ref('stg_orders') }}\n"
    )
    result = project.orc("dbt", "run", "--select", "stg_orders", "broken", expect=1)
    assert "broken" in result.stdout


def test_unknown_dbt_flag_exits_2(project: Project) -> None:
    result = project.orc("dbt", "build", "--no-such-flag", expect=2)
    assert "no-such-flag" in result.stdout + result.stderr


def test_stateful_unknown_flag_exits_2(project: Project) -> None:
    project.env["ORCHESTRA_USE_STATEFUL"] = "true"
    result = project.orc("dbt", "build", "--no-such-flag", expect=2)
    assert "no-such-flag" in result.stdout + result.stderr


def run_orc(*args: str) -> subprocess.CompletedProcess[str]:
    return run_orc_in(args, Path.cwd(), os.environ, expect=None)


def test_no_arguments_is_a_usage_error() -> None:
    result = run_orc()
    assert result.returncode == 2
    assert result.stderr.startswith("orc: error: no command given: try `orc dbt build`")
    assert result.stderr.count("\n") == 1


def test_subcommand_without_dbt_is_a_usage_error() -> None:
    result = run_orc("run", "--select", "x")
    assert result.returncode == 2
    assert "did you mean `orc dbt run --select x`" in result.stderr


@pytest.mark.compat
def test_version() -> None:
    from orchestra_dbt_py import __version__

    # The installed script itself, in a process of its own.
    result = subprocess.run([str(ORC), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"orc {__version__}"


def test_state_commands_from_the_command_line(tmp_path: Path) -> None:
    from orchestra_dbt_py.core.document import dump_state, parse_state
    from orchestra_dbt_py.core.records import NodeRecord

    record = NodeRecord(last_updated=datetime(2026, 11, 22, 7, 0, tzinfo=UTC), checksum="c")
    (tmp_path / "pyproject.toml").write_text('[tool.orchestra_dbt]\nstate_file = "state.json"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}

    def orc(*args: str) -> subprocess.CompletedProcess[str]:
        return run_orc_in(args, tmp_path, env, expect=None)

    missing = orc("state", "show")
    assert missing.returncode == 0 and "0 records" in missing.stdout, missing.stderr
    assert not (tmp_path / "state.json").exists(), "reading never creates the state"
    assert orc("state", "init").returncode == 0
    (tmp_path / "unsaved.json").write_text(dump_state({"model.p.a": record}))
    pushed = orc("state", "push", "unsaved.json")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("Sent 1 record to ")
    assert "model.p.a" in orc("state", "show").stdout
    copied = orc("state", "migrate", "--from", "state.json", "--to", "copy.json")
    assert copied.returncode == 0, copied.stderr
    assert parse_state((tmp_path / "copy.json").read_text(), "copy") == {"model.p.a": record}
    assert orc("state", "validate", "copy.json").returncode == 0
    (tmp_path / "bad.json").write_text("{not json")
    bad = orc("state", "validate", "bad.json")
    assert bad.returncode == 2 and "bad.json" in bad.stderr
    assert orc("state", "forget", "--all").returncode == 0
    assert parse_state((tmp_path / "state.json").read_text(), "state") == {}


# --- trust: a mistyped command line never forgets, builds or writes what was not asked -----


def model_id(name: str) -> str:
    return f"model.jaffle_tutorial.{name}"


def test_forget_takes_a_selection_as_orc_plan_does(project: Project) -> None:
    from orchestra_dbt_py.core.document import dump_state, parse_state
    from orchestra_dbt_py.core.records import NodeRecord

    record = NodeRecord(last_updated=datetime(2026, 11, 22, 7, 0, tzinfo=UTC), checksum="c")
    names = ("stg_orders", "stg_customers", "fct_orders")
    everything = {model_id(name): record for name in names}
    project.orc("state", "init")

    def forget(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        project.state_path.write_text(dump_state(everything))
        return project.orc("state", "forget", *args, expect=expect)

    def kept() -> set[str]:
        return set(parse_state(project.state_path.read_text(), "state"))

    where = str(project.state_path)
    # A bare name is a selection, as for `orc plan`: the model and its tests are selected;
    # the one with a record is listed by name, then forgotten.
    bare = forget("stg_orders").stdout.splitlines()
    assert bare[-2:] == ["  stg_orders", f"Forgot 1 of 7 selected nodes in {where}"]
    assert kept() == {model_id("stg_customers"), model_id("fct_orders")}
    selected = forget("stg_customers", "--select", "fct_orders").stdout.splitlines()
    assert selected[-3:] == [
        "  fct_orders",
        "  stg_customers",
        f"Forgot 2 of 12 selected nodes in {where}",
    ]
    assert kept() == {model_id("stg_orders")}
    # From another folder, the project the selection names (--project-dir) gives the
    # settings, and so the state, as for `orc plan`.
    project.state_path.write_text(dump_state(everything))
    args = ("state", "forget", "stg_orders", "--project-dir", str(project.dir))
    elsewhere = run_orc_in(args, project.root, project.env).stdout.splitlines()
    assert elsewhere[-1] == f"Forgot 1 of 7 selected nodes in {where}"
    assert kept() == {model_id("stg_customers"), model_id("fct_orders")}
    # What dbt rejects forgets nothing, in one line.
    for args in (
        ("--slect", "stg_orders"),
        ("--target", "duckdb", "stg_orders"),
        ("--target", "duckdb"),
    ):
        refused = forget(*args, expect=2)
        assert refused.stdout == "" and refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stderr.startswith("orc: error: `orc state forget` ")
        assert kept() == set(everything)
    # A selection matching nothing forgets nothing, and says so.
    nothing = forget("no_such_model")
    assert (
        nothing.stdout.splitlines()[-1]
        == f"The selection matches no node: nothing forgotten in {where}"
    )
    assert kept() == set(everything)


def test_an_invalid_boolean_setting_stops_orc_before_dbt(project: Project) -> None:
    for variable in ("ORCHESTRA_USE_STATEFUL", "ORCHESTRA_DBT_DEBUG", "ORCHESTRA_LOCAL_RUN"):
        for value in ("maybe", "1"):
            result = project.orc("dbt", "build", expect=2, **{variable: value})
            assert result.stdout == "", result.stdout
            assert result.stderr == (
                f"orc: error: {variable}={value!r} is not true or false: "
                "set it to true or false (any case), or unset it\n"
            )
    assert not project.relations() & (TUTORIAL_TABLES | TUTORIAL_VIEWS)


def test_an_unwritable_plan_page_is_one_line(project: Project) -> None:
    project.orc("state", "init")
    # `target` does not exist yet when orc starts, and is dbt's folder once it has parsed.
    shutil.rmtree(project.dir / "target", ignore_errors=True)
    for path in ("target", "README.md/plan.html"):
        result = project.orc("plan", "--html", path, expect=2)
        assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"orc: error: cannot write {path} (")
        assert "give --html the path of a file" in result.stderr


def test_orc_plan_says_where_it_wrote_the_page(project: Project) -> None:
    project.orc("state", "init")
    shown = project.orc("plan", "--html", "plan.html").stdout.splitlines()
    assert shown[-1].endswith("orc: wrote the plan page to plan.html"), shown
    assert (project.dir / "plan.html").is_file()
    # The tutorial's profile has no `prod` output: no deferral unless asked for.
    assert not any("defers to" in line for line in shown), shown
    other = "postgres" if project.target == "duckdb" else "duckdb"
    # With --output json, stdout is the document alone and orc's lines go to stderr.
    as_json = project.orc(
        "plan", "--output", "json", "--html", "../plan.html", ORCHESTRA_DEFER_TO_TARGET=other
    )
    document = json.loads(as_json.stdout)
    assert document["summary"]["selected"] > 0
    assert document["defers_to"] == other
    assert f"orc: defers to {other}\n" in as_json.stderr
    outside = project.root / "plan.html"
    assert as_json.stderr.splitlines()[-1].endswith(f"orc: wrote the plan page to {outside}")
    assert outside.is_file()
    assert f"defers to {other}" in outside.read_text()
    if project.target != "duckdb":
        return  # the error below does not depend on the warehouse
    unknown = project.orc("plan", expect=2, ORCHESTRA_DEFER_TO_TARGET="prd")
    assert unknown.stderr.endswith(
        "is not an output of profile jaffle_tutorial (its outputs: ci, duckdb, postgres): set it "
        "to one of them, or to none to defer to no target\n"
    ), unknown.stderr
    assert "Traceback" not in unknown.stderr and "Traceback" not in unknown.stdout


def test_an_unwritable_report_after_a_stateful_run_is_one_line(project: Project) -> None:
    from orchestra_dbt_py.core.document import parse_state

    project.env["ORCHESTRA_USE_STATEFUL"] = "true"
    project.orc("state", "init")
    in_the_way = project.dir / "target" / "orc_plan.html"
    in_the_way.mkdir(parents=True)
    selection = ("--select", "order_statuses", "--indirect-selection", "cautious")
    result = project.orc("dbt", "build", *selection, expect=2)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"orc: error: cannot write {in_the_way} (")
    assert "dbt ran and the state is saved" in result.stderr
    assert "Reused 0 of 3 nodes; ran 3" in result.stdout
    saved = parse_state(project.state_path.read_text(), "state")
    assert "seed.jaffle_tutorial.order_statuses" in saved
