"""A microbatch backfill (`--event-time-start/--event-time-end`) builds partial data of the
microbatch models only, as dbt applies those flags to them alone: every other node is planned
as usual, and the next run rebuilds the backfilled model and its readers, nothing more."""

from __future__ import annotations

import pytest

from tests.support.tutorial import Project, assert_matches_full_build, built_relations, name

MICROBATCH = """{{ config(materialized='incremental', incremental_strategy='microbatch',
                  event_time='order_date', begin='2024-01-01', batch_size='year') }}
select id as order_id, customer_id, order_date, status
from {{ source('raw', 'orders') }}
"""
READER = "select count(*) as orders from {{ ref('orders_microbatch') }}\n"


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_backfill_rebuilds_next_run_only_what_it_changed(built: Project) -> None:
    sources = built.dir / "models" / "staging" / "_sources.yml"
    orders = "      - name: orders\n"
    sources.write_text(
        sources.read_text().replace(orders, orders + "        config: {event_time: order_date}\n")
    )
    marts = built.dir / "models" / "marts"
    (marts / "orders_microbatch.sql").write_text(MICROBATCH)
    (marts / "orders_microbatch_count.sql").write_text(READER)
    built.orc("dbt", "build")

    backfill = ("--event-time-start", "2024-01-01", "--event-time-end", "2024-01-03")
    built.orc("dbt", "build", *backfill)
    artifact = built.plan_artifact()
    decided = {name(n["unique_id"]): n for n in artifact["nodes"]}
    assert decided["orders_microbatch"]["decision"] == "build"
    assert "backfills" in decided["orders_microbatch"]["reason"]
    assert decided["orders_microbatch_count"]["decision"] == "build"
    assert built_relations(artifact) == {"orders_microbatch", "orders_microbatch_count"}

    built.orc("dbt", "build")
    after = built.plan_artifact()
    assert built_relations(after) == {"orders_microbatch", "orders_microbatch_count"}
    assert_matches_full_build(
        built, after, also=frozenset({"orders_microbatch", "orders_microbatch_count"})
    )
