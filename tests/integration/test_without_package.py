"""A project without the orchestra_dbt dbt package: orc measures with the package's own
macros, which it ships, so it sees what it sees with the package (updated rows with an
unchanged `loaded_at`, deleted and late rows, sources without any `loaded_at`), rebuilds
exactly their readers, and a project's own dispatch override of `data_versions` still wins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestra_dbt_py.dbt.queries import PACKAGE_MISSING, WITHOUT_PACKAGE
from tests.support.tutorial import (
    TABLES_READING_ORDERS,
    Project,
    assert_matches_full_build,
    built_relations,
    full_key,
    name,
    replaced_view_rebuilds,
    uninstall_package,
)

READS_CUSTOMERS = frozenset({"dim_customers", "customers_snapshot"})
# The readers of payments are those of orders but the incremental copy of the orders.
READS_PAYMENTS = frozenset(TABLES_READING_ORDERS - {"orders_incremental"})
# It only picks up rows with a newer `_loaded_at`: after a late row it rightly differs from a
# full build, as it would under plain dbt.
INCREMENTAL = frozenset({"orders_incremental"})
# The project's own variants of the package's data_versions: the package's, plus a field.
OVERRIDE = """
{% macro duckdb__data_versions(relations) -%}
  {{ return(project_probe(orchestra_dbt.duckdb__data_versions(relations))) }}
{%- endmacro %}

{% macro postgres__data_versions(relations) -%}
  {{ return(project_probe(orchestra_dbt.postgres__data_versions(relations))) }}
{%- endmacro %}

{% macro project_probe(versions) -%}
  {%- for version in versions.values() if version -%}
    {%- do version.update({'probe': 'the project override'}) -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}
"""
DISPATCH = """
dispatch:
  - macro_namespace: orchestra_dbt
    search_order: ["jaffle_tutorial", "orchestra_dbt"]
"""


def planned(project: Project, **env: str) -> tuple[dict[str, Any], str]:
    """`orc plan`'s JSON document and the lines orc wrote beside it."""
    result = project.orc("plan", "--output", "json", **env)
    return json.loads(result.stdout), result.stderr


def reasons(plan: dict[str, Any]) -> dict[str, str]:
    return {name(n["unique_id"]): n["reason"] for n in plan["nodes"]}


@pytest.mark.compat
def test_without_the_package_orc_measures_what_the_package_measures(built: Project) -> None:
    uninstall_package(built)
    # The records were made with the package: its versions are measured again, unchanged,
    # and only --debug mentions the package.
    plan, said = planned(built, ORCHESTRA_DBT_DEBUG="true")
    assert built_relations(plan) == set(), reasons(plan)
    assert said.count("orchestra_dbt") == said.count(WITHOUT_PACKAGE) == 1
    # The warehouse state backend does need the package: one line says so, before any plan.
    table = {"ORCHESTRA_STATE_FILE": f"warehouse:{built.schema}.orc_state"}
    refused = built.orc("plan", expect=2, **table)
    assert refused.stderr.strip().splitlines() == [f"orc: error: {PACKAGE_MISSING}"]

    # An update with an unchanged loaded_at, and a delete.
    built.execute(f"update {built.raw_table('customers')} set email = 'n@example.org' where id = 3")
    built.execute(f"delete from {built.raw_table('payments')} where id = 1")
    plan, _ = planned(built)
    views = replaced_view_rebuilds(built, {"dim_customers"})
    assert built_relations(plan) == READS_CUSTOMERS | READS_PAYMENTS | views
    assert "source raw.customers changed since" in reasons(plan)["customers_snapshot"]
    assert "source raw.payments changed since" in reasons(plan)["int_order_payments"]

    # A late row, older than the newest loaded_at.
    built.execute(
        f"insert into {built.raw_table('orders')} (id, customer_id, order_date, status, "
        "_loaded_at) values (99, 2, '2024-01-20', 'placed', cast('2000-01-01' as timestamp))"
    )
    artifact = built.build()
    assert built_relations(artifact) == READS_CUSTOMERS | TABLES_READING_ORDERS | views
    assert "source raw.orders changed since" in reasons(artifact)["orders_incremental"]
    assert_matches_full_build(built, artifact, skip=INCREMENTAL)

    # Sources without any loaded_at, and the project's own data_versions: measured anew once,
    # then a run with no change executes nothing. On PostgreSQL the project names itself
    # first in its dispatch config; on DuckDB it relies on dbt's default order (the project,
    # then the package). The override wins either way.
    sources = built.dir / "models" / "staging" / "_sources.yml"
    sources.write_text(sources.read_text().replace("    loaded_at_field: _loaded_at\n", ""))
    (built.dir / "macros" / "data_versions_override.sql").write_text(OVERRIDE)
    if built.target == "postgres":
        with (built.dir / "dbt_project.yml").open("a") as project_file:
            project_file.write(DISPATCH)
    quiet = built.orc("dbt", "build")
    assert "orchestra_dbt" not in "".join(
        line for line in quiet.stdout.splitlines() if "orc: " in line
    )
    document = json.loads(built.state_path.read_text())
    record = document["state"][full_key(document, "model.jaffle_tutorial.int_order_payments")]
    assert record["version"]["probe"] == "the project override"
    read = record["data_versions"]["source.jaffle_tutorial.raw.payments"]
    assert read["probe"] == "the project override" and "loaded_at" not in read
    plan, _ = planned(built)
    assert {n["decision"] for n in plan["nodes"]} == {"reuse"}, reasons(plan)
