"""What a hook's SQL writes rows into (orchestra_dbt_py/sql_writes.py), and which builds a
node that writes elsewhere waits for (core/graph.upstream_within). Which writes matter (a
relation some node reads, not the node itself) is resolved against the warehouse's names:
tests/integration/test_hook_writes.py."""

from __future__ import annotations

import pytest

from orchestra_dbt_py.core.graph import Node, upstream_within
from orchestra_dbt_py.sql_reads import UnreadableSql
from orchestra_dbt_py.sql_writes import may_write, written_relations


@pytest.mark.parametrize(
    ("sql", "written"),
    [
        ("insert into main_raw.payments select 1", [("", "main_raw", "payments")]),
        ('insert into "DB"."Raw"."P" (a) values (1)', [("DB", "Raw", "P")]),
        ("delete from raw.orders where id = 1", [("", "raw", "orders")]),
        ("update raw.orders set a = 1", [("", "raw", "orders")]),
        ("merge into a.b using c on 1 = 1 when matched then delete", [("", "a", "b")]),
        ("truncate table a.b, a.c", [("", "a", "b"), ("", "a", "c")]),
        ("create or replace table s.t as select 1", [("", "s", "t")]),
        ("copy a.b from 'file.csv'", [("", "a", "b")]),
        ("insert into A.B select 1; delete from c.d", [("", "a", "b"), ("", "c", "d")]),
        ("grant select on a.b to reporter", []),
        ("create index i on a.b (x)", []),
        ("analyze a.b", []),
        ("select * from a.b", []),
    ],
)
def test_the_relations_a_statement_writes_rows_into(
    sql: str, written: list[tuple[str, str, str]]
) -> None:
    assert written_relations(sql, "postgres") == written


@pytest.mark.parametrize("sql", ["insert into oops (", "insert into t select 1 from where"])
def test_a_writing_statement_orc_cannot_read_is_an_error(sql: str) -> None:
    with pytest.raises(UnreadableSql) as raised:
        written_relations(sql, "postgres")
    assert "Token" not in str(raised.value) and "\n" not in str(raised.value)


def test_only_sql_with_a_writing_word_is_read() -> None:
    assert may_write("INSERT INTO x select 1") and may_write("create temporary table t as x")
    assert may_write("Merge into a using b on true when matched then delete")
    assert not may_write("grant select on {{ this }} to role reporter")
    assert not may_write("create index if not exists i on {{ this }} (id)")
    assert not may_write("select inserted_at from t")
    # Writes into the node itself need no rendering: {{ this }} is the node.
    assert not may_write("delete from {{ this }} where day < current_date - 30")
    assert not may_write("insert into {{this}} select 1; update {{ this }} set a = 1")
    assert may_write("insert into {{ this }} select 1; delete from raw.orders")
    assert may_write("insert into {{ this.schema }}.other select 1")


def test_the_builds_a_writer_waits_for_are_found_through_reused_nodes() -> None:
    nodes = {
        "s": Node("s", "seed"),
        "a": Node("a", "model", "table", ("s",)),
        "b": Node("b", "model", "view", ("a",)),  # reused: not among the builds
        "w": Node("w", "model", "table", ("b",)),
        "other": Node("other", "model", "table", ("s",)),
    }
    assert upstream_within(nodes, ["w"], {"s", "w", "other"}) == {"s", "w"}
    assert upstream_within(nodes, [], {"s"}) == set()
