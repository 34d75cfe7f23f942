"""Warehouse.clone_relations on real DuckDB and PostgreSQL, in a project without the
orchestra_dbt package (orc lends its macros): a table of another schema is copied into a
node's relation (an existing one replaced, a missing schema created), and a clone from a
relation that does not exist is an error that leaves the node's table as it was."""

from __future__ import annotations

from typing import Any

import pytest

from orchestra_dbt_py.core.graph import Node
from tests.support.tutorial import Project, uninstall_package

PROJECT = "jaffle_tutorial"


def rows(session: Any, relation: str) -> list[tuple[object, ...]]:
    """A relation's rows, sorted, through the session's adapter (the DuckDB file is open
    in this process)."""
    return sorted((tuple(row) for row in execute(session, f"select * from {relation}")), key=repr)


def execute(session: Any, sql: str) -> Any:
    adapter = session.adapter
    with adapter.connection_named("test_clone"):
        _, table = adapter.execute(sql, auto_begin=True, fetch=True)
        adapter.commit_if_has_connection()
    return table.rows


def test_clone_copies_tables_from_another_schema(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.adapters.factory import reset_adapters

    from orchestra_dbt_py.dbt.command import parse_command
    from orchestra_dbt_py.dbt.queries import Warehouse
    from orchestra_dbt_py.dbt.session import DbtSession

    uninstall_package(built)
    here = built.schema
    # Production's schema, named with a dot, to be read back from the record's text.
    prod = f'"{here}.prod"'
    built.execute(f"create schema {prod}")
    # Production's fct_orders has a row less than this target's, so a copy shows.
    built.execute(
        f"create table {prod}.fct_orders as select * from {here}.fct_orders "
        f"where order_id > (select min(order_id) from {here}.fct_orders)"
    )
    built.execute(f"create table {prod}.dim_customers as select * from {here}.dim_customers")

    for key, value in built.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(built.dir)
    target_args = [] if built.target == "duckdb" else ["--target", built.target]
    session = DbtSession(parse_command(["parse", *target_args]))
    try:
        orders_before = rows(session, f"{here}.fct_orders")
        payments_before = rows(session, f"{here}.int_order_payments")
        recorded = f'"{session.config.credentials.database}".{prod}'
        fct_orders, dim_customers, payments = (
            Node(f"model.{PROJECT}.{name}", "model", "table")
            for name in ("fct_orders", "dim_customers", "int_order_payments")
        )
        # dim_customers is built into a schema that does not exist yet.
        session.manifest.nodes[dim_customers.unique_id].schema = f"{here}_new"

        errors = Warehouse(session).clone_relations(
            [
                (f"{recorded}.fct_orders", fct_orders),
                (f"{recorded}.dim_customers", dim_customers),
                (f"{recorded}.gone", payments),
            ]
        )

        assert list(errors) == [payments.unique_id], errors
        assert f"{recorded}.gone does not exist" in errors[payments.unique_id]
        assert rows(session, f"{here}.int_order_payments") == payments_before
        cloned = rows(session, f"{here}.fct_orders")
        assert cloned == rows(session, f"{prod}.fct_orders")
        assert len(cloned) == len(orders_before) - 1  # the existing table was replaced
        assert rows(session, f"{here}_new.dim_customers") == rows(session, f"{prod}.dim_customers")
        # A copy, not a view over production: production's later change does not show here.
        execute(session, f"delete from {prod}.fct_orders")
        assert rows(session, f"{here}.fct_orders") == cloned
    finally:
        session.adapter.cleanup_connections()
        reset_adapters()
