"""A model whose own post-hook loads rows into a source other models read: orc measured that
source before the run, so the writer is built first and the rest planned again on what it
wrote (dbt/hook_writes.py, rounds.py). Checked against a plain full build."""

from __future__ import annotations

from tests.support.tutorial import Project, assert_matches_full_build, built_relations, name

LOADER = """{{{{ config(materialized='table', post_hook="insert into {payments}
    select max(id) + 1, 1, 'coupon', 700, max(_loaded_at) from {payments}") }}}}
select {{{{ var('loader_version', 1) }}}} as version
"""
# An audit hook writes into a table no node reads: nothing to plan again.
AUDITED = """{{{{ config(post_hook="insert into {log} select '{{{{ this.name }}}}'") }}}}
select {{{{ var('loader_version', 1) }}}} as version
"""


def test_rows_a_models_hook_loads_into_a_source_are_read_in_the_same_run(built: Project) -> None:
    payments, log = built.raw_table("payments"), f"{built.schema}.audit_log"
    built.execute(f"create table {log} (model varchar(100))")
    (built.dir / "models" / "loader.sql").write_text(LOADER.format(payments=payments))
    (built.dir / "models" / "audited.sql").write_text(AUDITED.format(log=log))
    plan = built.orc("plan")
    assert f"loader writes rows into {payments} in its hooks" in plan.stdout + plan.stderr
    assert "audited writes" not in plan.stdout + plan.stderr
    count = f"select count(*) from {payments}"
    before = built.query(count)[0][0]
    for version in (1, 2):  # the loader is new, then its definition changes
        run = built.orc("dbt", "build", "--vars", f"{{loader_version: {version}}}")
        assert f"loader writes rows into {payments}" in run.stdout + run.stderr
        assert "audited writes" not in run.stdout + run.stderr
        assert built.query(f"select count(*) from {log}")[0][0] == version
        assert built.query(count)[0][0] == before + version
        artifact = built.plan_artifact()
        assert {"loader", "int_order_payments", "fct_orders"} <= built_relations(artifact)
        decisions = {name(n["unique_id"]): n for n in artifact["nodes"]}
        assert "raw.payments" in decisions["int_order_payments"]["reason"]
        # The plain build leaves the loader out: its hook would add one more payment.
        assert_matches_full_build(built, artifact, "--exclude", "loader", "audited")
    unchanged = built.orc("dbt", "build", "--vars", "{loader_version: 2}")
    assert "writes rows into" not in unchanged.stdout + unchanged.stderr
    assert built.plan_artifact()["summary"]["build"] == 0
