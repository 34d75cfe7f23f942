"""WarehouseBackend's own logic: newest row per key, account prefix, corrupt rows, retries.

The table is played by a small in-memory stand-in for the package's two macros; the real
macros against real DuckDB and PostgreSQL are in tests/integration/test_state_warehouse.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.document import dump_item_json
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import StateLocation, parse_location
from orchestra_dbt_py.state.backend import ScopedBackend
from orchestra_dbt_py.state.table import WarehouseBackend, fixed_time

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


class Table:
    """Rows as read_state_rows / write_state_rows keep them."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] | None = None  # None: the table does not exist
        self.calls: list[str] = []
        self.failures: list[Exception] = []

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool:
        assert (database, schema, identifier) == (None, "analytics", "orc_state")
        return self.rows is not None

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        self.calls.append(name)
        assert kwargs["state_table"] == "analytics.orc_state"
        if name == "read_state_rows":
            assert kwargs["check_exists"] is False
            assert self.rows is not None
            keys = kwargs["keys"]
            found = [r for r in self.rows if r[1] == kwargs["kind"]]
            found = [r for r in found if keys is None or r[0] in keys]
            ordered = sorted(found, key=lambda r: [str(cell) for cell in r])
            return [[key, moment, item] for key, _, moment, item in ordered]
        assert name == "write_state_rows"
        if self.failures:
            raise self.failures.pop(0)
        self.rows = list(self.rows or [])
        self.rows += kwargs["rows"]
        before = kwargs["removed_before"]
        self.rows = [
            r
            for r in self.rows
            if not (r[0] in kwargs["removals"] and r[1] == "node" and r[2] <= before)
        ]
        return None


def record(minutes: int, fingerprint: str = "fp") -> NodeRecord:
    return NodeRecord(
        last_updated=T0 + timedelta(minutes=minutes), fingerprint=fingerprint, status="success"
    )


def backend(table: Table) -> WarehouseBackend:
    return WarehouseBackend("analytics.orc_state", lambda: table, clock=lambda: T0 + timedelta(1))


def test_a_missing_table_is_an_empty_state_and_init_creates_it() -> None:
    table = Table()
    state = backend(table)
    assert not state.exists()
    assert state.load() == {}
    assert state.init() is True
    assert table.rows == []
    assert state.init() is False
    assert table.calls.count("write_state_rows") == 1


def test_the_newest_row_of_each_key_wins() -> None:
    table = Table()
    state = backend(table)
    state.update({"model.p.a": record(5, "new")})
    state.update({"model.p.a": record(1, "old"), "model.p.b": record(2)})
    loaded = state.load()
    assert loaded["model.p.a"].fingerprint == "new"
    assert set(loaded) == {"model.p.a", "model.p.b"}


def test_update_returns_the_merged_state_and_removes_keys() -> None:
    table = Table()
    state = backend(table)
    state.update({"model.p.a": record(1), "model.p.b": record(1)})
    merged = state.update({"model.p.c": record(2)}, removals=["model.p.a"])
    assert set(merged) == {"model.p.b", "model.p.c"}
    assert set(state.load()) == {"model.p.b", "model.p.c"}


def test_rows_are_the_document_items_with_fixed_width_times() -> None:
    table = Table()
    backend(table).update({"model.p.a": record(1)})
    assert table.rows == [
        ["model.p.a", "node", fixed_time(T0 + timedelta(minutes=1)), dump_item_json(record(1))]
    ]
    assert fixed_time(T0) == "2026-11-22T07:00:00.000000Z"


def test_a_corrupt_row_is_an_error_and_nothing_is_written() -> None:
    table = Table()
    table.rows = [["model.p.a", "node", fixed_time(T0), "{not json"]]
    state = backend(table)
    with pytest.raises(OrcError) as caught:
        state.update({"model.p.b": record(1)})
    message = str(caught.value)
    assert "warehouse:analytics.orc_state" in message and "model.p.a" in message
    assert "\n" not in message
    assert "write_state_rows" not in table.calls
    with pytest.raises(OrcError):
        state.load()


ITEM_0 = dump_item_json(record(0))
ITEM_999 = ITEM_0.replace("2026-11-22T07:00:00Z", "0999-11-22T07:00:00Z")
JSON_OUT_OF_RANGE = [
    '{"last_updated": "9999-12-31T23:59:59-01:00"}',
    '{"last_updated": "0001-01-01T00:00:00+01:00"}',
    '{"last_updated": "2026-01-01T00:00:00Z", "upstream": {"m": "0001-01-01T00:00+05:00"}}',
    '{"last_updated": "2026-01-01T00:00:00Z", "execution_time": 1' + "0" * 400 + "}",
    '{"last_updated": "2026-01-01T00:00:00Z", "other": 1' + "0" * 5000 + "}",
    '{"last_updated": "2026-01-01T00:00:00Z", "other": ' + "[" * 100_000 + "]" * 100_000 + "}",
]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        # A NULL key (a table made without `not null`) names no node: never a record.
        ([None, "node", fixed_time(T0), ITEM_0], ["state_key is NULL", "delete"]),
        (["model.p.a", "node", fixed_time(T0), None], ["'model.p.a'", "item is NULL"]),
        # The text column orders and deletes the rows: it must be the item's own time.
        (["model.p.a", "node", None, ITEM_0], ["'model.p.a'", "NULL", fixed_time(T0)]),
        (["model.p.a", "node", fixed_time(T0 + timedelta(1)), ITEM_0], [fixed_time(T0)]),
        (["model.p.a", "node", "2026-11-22T07:00:00Z", ITEM_0], [fixed_time(T0)]),
        # A year-999 row of an older orc, which sorts after every row of today.
        (["model.p.a", "node", "999-11-22T07:00:00.000000Z", ITEM_999], ["'0999-11-22T07"]),
        *(
            (["model.p.a", "node", fixed_time(T0), text], ["'model.p.a'"])
            for text in JSON_OUT_OF_RANGE
        ),
    ],
    ids=["null-key", "null-item", "null-time", "later-time", "short-time", "year-999"]
    + [f"json-{n}" for n in range(len(JSON_OUT_OF_RANGE))],
)
def test_a_row_orc_cannot_trust_is_one_line_and_nothing_is_written(
    row: list[Any], words: list[str]
) -> None:
    table = Table()
    table.rows = [["model.p.b", "node", fixed_time(T0), ITEM_0], row]
    state = backend(table)
    for action in (state.load, lambda: state.update({"model.p.c": record(1)})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert message.startswith("state table warehouse:analytics.orc_state has ")
        assert "\n" not in message and len(message) < 400, message
        assert "orc never overwrites it" in message, message
        assert all(word in message for word in words), message
    assert "write_state_rows" not in table.calls
    assert table.rows[-1] == row


def test_the_account_prefix_limits_reads_and_writes() -> None:
    table = Table()
    backend(table).update({"model.p.a": record(1)})
    scoped = ScopedBackend(backend(table), KeyScope("acct"))
    scoped.update({"acct.analytics.a": record(2)})
    assert set(scoped.load()) == {"acct.analytics.a"}
    assert set(scoped.update({"model.p.b": record(3)})) == {"acct.analytics.a"}
    assert set(backend(table).load()) == {"model.p.a", "acct.analytics.a"}


def test_a_failed_write_is_tried_again_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestra_dbt_py.state.table.time.sleep", lambda _: None)
    table = Table()
    waits: list[str] = []
    state = WarehouseBackend("analytics.orc_state", lambda: table, on_wait=waits.append)
    table.failures = [RuntimeError("deadlock detected")]
    state.update({"model.p.a": record(1)})
    assert set(state.load()) == {"model.p.a"}
    assert len(waits) == 1 and "deadlock detected" in waits[0]

    table.failures = [RuntimeError(f"down {n}") for n in range(3)]
    with pytest.raises(OrcError, match="could not be written: down 2"):
        state.update({"model.p.b": record(2)})
    assert set(state.load()) == {"model.p.a"}


@pytest.mark.parametrize(
    ("uri", "table"),
    [("warehouse:a.b", "a.b"), (" warehouse:db.a.b ", "db.a.b"), ("Warehouse:a.b", "a.b")],
)
def test_table_name(uri: str, table: str) -> None:
    assert parse_location(uri, Path("/")) == StateLocation("warehouse", table)
