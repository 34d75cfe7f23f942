"""The clone_relation macro's SQL on the warehouses that cannot run here (Snowflake,
Databricks, BigQuery), rendered with dbt's Jinja (tests/support/macro_render.py) from the
source relation as a state record names it, and read back with sqlglot. The copy of the
other warehouses runs for real in tests/integration/test_clone.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from orchestra_dbt_py.dbt.clone import source_relation
from tests.support.macro_render import FakeRelationApi, MacroRenderer, warehouse_relation

# Runs dbt-core's code (its Jinja): tested on every supported release.
pytestmark = pytest.mark.compat

CASES = [
    # adapter, the record's relation, the node's (database, schema, identifier)
    ("snowflake", 'ANALYTICS.PROD."Fct.Orders"', ("ANALYTICS", "DBT_DEV", "FCT_ORDERS")),
    ("databricks", "`main`.`prod`.`fct_orders`", ("main", "dbt_dev", "fct_orders")),
    ("bigquery", "`my-project`.`prod`.`fct_orders`", ("my-project", "dbt_dev", "fct_orders")),
]


def parts(table: exp.Table) -> tuple[str, str, str]:
    return (table.catalog, table.db, table.name)


def clone_statement(
    adapter_type: str, source: str, target: tuple[str, str, str], **kwargs: Any
) -> MacroRenderer:
    """The renderer the macro ran in, cloning `source` (a record's text) into `target`."""
    renderer = MacroRenderer(adapter_type, **kwargs)
    relation = source_relation(SimpleNamespace(Relation=FakeRelationApi(adapter_type)), source)
    assert relation.render() == source  # the record's name, quoted as it was written
    renderer.call("clone_relation", relation, warehouse_relation(adapter_type, *target))
    return renderer


@pytest.mark.parametrize(("adapter_type", "source", "target"), CASES)
def test_a_zero_copy_clone_replaces_the_target(
    adapter_type: str, source: str, target: tuple[str, str, str]
) -> None:
    renderer = clone_statement(adapter_type, source, target)

    (sql,) = renderer.queries
    statement = sqlglot.parse_one(sql, read=adapter_type)
    assert isinstance(statement, exp.Create), sql
    assert statement.kind == "TABLE" and statement.args.get("replace") is True
    assert isinstance(statement.this, exp.Table)
    assert parts(statement.this) == target
    clone = statement.args.get("clone")
    assert isinstance(clone, exp.Clone), sql
    assert isinstance(clone.this, exp.Table)
    source_parts = sqlglot.exp.to_table(source, dialect=adapter_type)
    assert parts(clone.this) == parts(source_parts)
    # Databricks clones shallow (metadata only); the others have one kind of clone.
    assert bool(clone.args.get("shallow")) == (adapter_type == "databricks")
    transient = statement.find(exp.TransientProperty) is not None
    assert transient == (adapter_type == "snowflake")


def test_snowflake_clones_into_a_permanent_table_when_the_model_is_permanent() -> None:
    renderer = MacroRenderer("snowflake")
    source = warehouse_relation("snowflake", "ANALYTICS", "PROD", "FCT")
    target = warehouse_relation("snowflake", "ANALYTICS", "DBT_DEV", "FCT")

    renderer.call("clone_relation", source, target, transient=False)

    (sql,) = renderer.queries
    statement = sqlglot.parse_one(sql, read="snowflake")
    assert isinstance(statement, exp.Create) and statement.args.get("clone") is not None
    assert statement.find(exp.TransientProperty) is None


@pytest.mark.parametrize(("adapter_type", "source", "target"), CASES)
def test_a_view_in_the_way_is_dropped_first(
    adapter_type: str, source: str, target: tuple[str, str, str]
) -> None:
    renderer = clone_statement(
        adapter_type, source, target, tables=[target], table_details={target: {"type": "view"}}
    )

    drop, create = (sqlglot.parse_one(sql, read=adapter_type) for sql in renderer.queries)
    assert isinstance(drop, exp.Drop) and drop.kind == "VIEW", drop.sql()
    dropped = drop.find(exp.Table)
    assert dropped is not None and parts(dropped) == target
    assert isinstance(create, exp.Create) and create.args.get("clone") is not None


@pytest.mark.parametrize(("adapter_type", "source", "target"), CASES)
def test_an_existing_table_is_replaced_in_one_statement(
    adapter_type: str, source: str, target: tuple[str, str, str]
) -> None:
    renderer = clone_statement(adapter_type, source, target, tables=[target])

    (sql,) = renderer.queries
    assert isinstance(sqlglot.parse_one(sql, read=adapter_type), exp.Create)
