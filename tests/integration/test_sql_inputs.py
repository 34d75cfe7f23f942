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


LITERAL = """\
{{ config(materialized='table', meta={'owner': {'team': 'finance', 'on': [1, 2]}}) }}
{# read without compiling: only ref, source and config calls #}
with stg_orders as (select * from {{- ref('stg_orders') -}})
select o.order_id, s.id
from stg_orders as o
join RAW.src_3 as s on s.id = o.order_id
join {{ source('raw', 'payments') }} as p on p.id = s.id
where o.order_date < current_date
"""
PASSING_REF = "{% macro ref() %}{{ return(builtins.ref(*varargs, **kwargs)) }}{% endmacro %}\n"


def reads_by_model(project: Project) -> dict[str, set[str]]:
    state = json.loads(project.state_path.read_text())
    return {
        name(key.partition("@")[0]): set(record["reads"])
        for key, record in state["state"].items()
        if "@" in key and key.startswith("model.") and record.get("reads") is not None
    }


def test_models_read_without_compiling_record_what_compiling_finds(built: Project) -> None:
    """Table models whose only Jinja is ref, source and config calls are read without
    being compiled (`sql_reads.sql_of_template`); what their records say they read is what
    the same models compiled are found to read (a project that overrides `ref` has every
    model compiled)."""
    raw = built.raw_table("src_3").split(".")[0]
    built.execute(f"create table {raw}.src_3 as select 1 as id")
    (built.dir / "models" / "marts" / "by_literal_name.sql").write_text(LITERAL.replace("RAW", raw))
    built.orc("state", "forget", "--all")
    build(built)
    read_without_compiling = reads_by_model(built)
    key = f'"{raw}"."src_3"'
    assert any(k.endswith(key) for k in read_without_compiling["by_literal_name"])
    assert "clock:CURRENT_DATE" in read_without_compiling["by_literal_name"]
    assert len(read_without_compiling) > 5

    (built.dir / "macros" / "passing_ref.sql").write_text(PASSING_REF)
    built.orc("state", "forget", "--all")
    build(built)
    assert reads_by_model(built) == read_without_compiling


LATE = """\
{{ config(materialized='incremental') }}
select s.id from RAW.src_3 as s
{% if is_incremental() %}
where s.id not in (select id from {{ this }}) or s.id in (select id from RAW.late)
{% endif %}
"""


def test_what_either_side_of_is_incremental_reads_is_an_input(built: Project) -> None:
    """A first build takes the side of `is_incremental()` that later builds do not: what
    the other side reads (here `late`, read only by incremental builds) is an input from
    the first build on, read as written or compiled."""
    raw = built.raw_table("src_3").split(".")[0]
    built.execute(f"create table {raw}.src_3 as select 1 as id")
    built.execute(f"create table {raw}.late as select 1 as id")
    (built.dir / "models" / "marts" / "late.sql").write_text(LATE.replace("RAW", raw))
    assert "late" in built_relations(build(built))
    as_written = reads_by_model(built)["late"]
    assert {key.rsplit(".", 1)[-1] for key in as_written} == {'"src_3"', '"late"'}

    built.execute(f"insert into {raw}.late values (2)")
    second = build(built)
    assert built_relations(second) == {"late"}, reasons(second)
    assert reasons(second)["late"].startswith(f"reads {raw}.late directly, not as a source: ")

    (built.dir / "macros" / "passing_ref.sql").write_text(PASSING_REF)
    built.orc("state", "forget", "--all")
    build(built)
    assert reads_by_model(built)["late"] == as_written
