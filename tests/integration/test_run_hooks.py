"""A project's own hooks under a stateful `orc dbt build`: the on-run-start hooks run before
orc measures, so rows a hook loads into a source are built in that same run; the project's
hooks run once per command, also when every node is reused; a failing hook fails the command
as it fails dbt; a reused model that asks for it (`execute_hooks_on_any_reuse`) has its hooks
run, and one that does not, not."""

from __future__ import annotations

from pathlib import Path

from tests.support.tutorial import (
    TABLES_READING_ORDERS,
    Project,
    assert_matches_full_build,
    built_relations,
    replaced_view_rebuilds,
)

RAW = "{{ env_var('TUTORIAL_RAW_SCHEMA', target.schema ~ '_raw') }}"
AUDIT = f"{RAW}.hook_audit"
# A load-then-transform hook: one late order, loaded once (a plain build after it finds it).
LOAD = (
    f"insert into {RAW}.orders (id, customer_id, order_date, status, _loaded_at) "
    "select 16, 12, cast('2024-01-13' as date), 'placed', "
    "cast('{{ run_started_at.strftime('%Y-%m-%d %H:%M:%S') }}' as timestamp) "
    f"where not exists (select 1 from {RAW}.orders where id = 16)"
)
HOOKS = f"""
on-run-start:
  - "insert into {AUDIT} (kind) values ('start {{{{ target.schema }}}}')"
  - "{LOAD}"
on-run-end:
  - "insert into {AUDIT} (kind) values ('end {{{{ target.schema }}}}')"
"""


def with_post_hook(path: Path, *config: str) -> None:
    kind = "post {{ this.schema }} {{ this.identifier }}"
    hook = f"insert into {AUDIT} (kind) values ('{kind}')"
    settings = ", ".join((f'post_hook="{hook}"', *config))
    path.write_text(f"{{{{ config({settings}) }}}}\n{path.read_text()}")


def audit(project: Project) -> dict[str, int]:
    rows = project.query(
        f"select kind, count(*) from {project.schema}_raw.hook_audit group by kind"
    )
    return {str(kind): int(n) for kind, n in rows}


def test_project_hooks_run_once_before_measuring_and_on_reuse(built: Project) -> None:
    project = built
    project.execute(f"create table {project.schema}_raw.hook_audit (kind varchar(200))")
    (project.dir / "dbt_project.yml").write_text(
        (project.dir / "dbt_project.yml").read_text() + HOOKS
    )
    # Two readers of orders get a post-hook; one asks for it to run when it is reused.
    marts = project.dir / "models" / "marts"
    with_post_hook(marts / "fct_large_orders.sql", "state={'execute_hooks_on_any_reuse': true}")
    with_post_hook(marts / "orders_incremental.sql")
    schema = project.schema
    asking, not_asking = f"post {schema} fct_large_orders", f"post {schema} orders_incremental"

    # orc plan writes nothing, hooks included, and says when they will run.
    planned = project.orc("plan")
    assert "2 on-run-start hooks" in planned.stdout + planned.stderr
    assert audit(project) == {}

    # The late order the start hook loads is built in the same run, by exactly its readers.
    project.orc("dbt", "build")
    artifact = project.plan_artifact()
    expected = TABLES_READING_ORDERS | replaced_view_rebuilds(project, TABLES_READING_ORDERS)
    assert built_relations(artifact) == expected
    assert project.query(f"select count(*) from {schema}.fct_orders")[0][0] == 16
    assert audit(project) == {
        f"start {schema}": 1,
        f"end {schema}": 1,
        asking: 1,
        not_asking: 1,
    }
    assert_matches_full_build(project, artifact)

    # Nothing changed: every node is reused, the project's hooks still run once each, and
    # the reused model that asks for it runs its post-hook.
    project.orc("dbt", "build")
    assert built_relations(project.plan_artifact()) == set()
    counts = audit(project)
    assert counts[f"start {schema}"] == counts[f"end {schema}"] == 2
    assert (counts[asking], counts[not_asking]) == (2, 1)

    # A failing hook: dbt's exit code and message, no traceback, nothing recorded.
    before = project.state_path.read_text()
    project.execute(f"drop table {schema}_raw.hook_audit")
    failed = project.orc("dbt", "build", expect=1)
    output = failed.stdout + failed.stderr
    assert "jaffle_tutorial.on-run-start.0 failed, error:" in output, output
    assert "hook_audit" in output and "Traceback" not in output
    assert project.state_path.read_text() == before
