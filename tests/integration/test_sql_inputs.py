"""Inputs only the compiled SQL shows, on real warehouses: a relation read by a name a macro
builds (not `source()`), and the clock at day grain. New rows there rebuild their reader;
a new day rebuilds a model that filters on `current_date`; a run with no change builds
nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

from tests.support.tutorial import (
    Project,
    assert_matches_full_build,
    built_relations,
    full_key,
    name,
    ran,
)

BY_NAME = """\
{{ config(materialized='table') }}
-- reads a raw table by a name a macro builds, not through source()
select s.id, s.order_id, p.amount
from {{ env_var('TUTORIAL_RAW_SCHEMA', target.schema ~ '_raw') }}.src_3 as s
left join {{ ref('stg_payments') }} as p on p.payment_id = s.id
"""
RECENT = """\
{{ config(materialized='table') }}
with orders as (select * from {{ ref('stg_orders') }})
select order_id, order_date from orders where order_date >= current_date - 30
"""


def build(project: Project) -> dict[str, object]:
    """`orc dbt build` alone (`Project.build` also checks that `orc plan` agrees)."""
    project.orc("dbt", "build")
    return project.plan_artifact()


def reasons(artifact: dict[str, object]) -> dict[str, str]:
    return {name(n["unique_id"]): n["reason"] for n in artifact["nodes"]}  # type: ignore[index, union-attr]


def test_a_relation_read_by_name_and_the_date_are_inputs(built: Project) -> None:
    raw = "main_raw" if built.target == "duckdb" else f"{built.schema}_raw"
    built.execute(f"create table {raw}.src_3 as select 1 as id, 1 as order_id")
    built.execute(f"insert into {raw}.src_3 values (2, 2), (3, 3)")
    (built.dir / "models" / "marts" / "payments_by_name.sql").write_text(BY_NAME)
    (built.dir / "models" / "marts" / "recent_orders.sql").write_text(RECENT)
    assert built_relations(build(built)) == {"payments_by_name", "recent_orders"}

    built.execute(f"insert into {raw}.src_3 values (4, 4), (5, 5)")
    second = built.build()
    assert built_relations(second) == {"payments_by_name"}, reasons(second)
    assert reasons(second)["payments_by_name"].startswith(
        f"reads {raw}.src_3 directly, not as a source: "
    )
    assert "rows 3 -> 5" in reasons(second)["payments_by_name"]
    assert_matches_full_build(built, second, also=frozenset({"payments_by_name", "recent_orders"}))
    assert ran(build(built)) == set()

    # The next day, as the state would have it: the recorded date is yesterday's.
    state = json.loads(built.state_path.read_text())
    record = state["state"][full_key(state, "model.jaffle_tutorial.recent_orders")]
    today = record["reads"]["clock:CURRENT_DATE"]["value"]
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    record["reads"]["clock:CURRENT_DATE"]["value"] = yesterday
    built.state_path.write_text(json.dumps(state))
    next_day = build(built)
    assert built_relations(next_day) == {"recent_orders"}
    assert reasons(next_day)["recent_orders"] == f"reads current_date: {yesterday} -> {today}"
