"""`orc` as a dbt pass-through: same arguments, same results, same exit codes."""

from __future__ import annotations

import subprocess

from conftest import ORC, Project

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
    return subprocess.run([str(ORC), *args], capture_output=True, text=True, timeout=120)


def test_no_arguments_is_a_usage_error() -> None:
    result = run_orc()
    assert result.returncode == 2
    assert result.stderr.startswith("orc: error: no command given; usage: orc dbt")
    assert result.stderr.count("\n") == 1


def test_subcommand_without_dbt_is_a_usage_error() -> None:
    result = run_orc("run", "--select", "x")
    assert result.returncode == 2
    assert "did you mean `orc dbt run --select x`" in result.stderr


def test_version() -> None:
    from orchestra_dbt_py import __version__

    result = run_orc("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"orc {__version__}"
