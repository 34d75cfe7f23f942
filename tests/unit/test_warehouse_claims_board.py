"""WarehouseBackend's claims: which adapters can hold the board, what `change_claims` gives
the macro and makes of its rows, retries, and the one-line errors.

The claims table is played by a stand-in for the package's `change_claims_board` macro;
the real macro on real DuckDB and PostgreSQL is in
tests/integration/test_state_warehouse_claims.py, its SQL in tests/unit/test_claims_table_sql.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from orchestra_dbt_py.core.claims import Claim, dump_board, parse_board, release, take
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import ScopedBackend
from orchestra_dbt_py.state.table import CLAIMS_ATTEMPTS, WarehouseBackend

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WHERE = "the claims table warehouse:analytics.orc_state__claims"


def claim(run_id: str) -> Claim:
    return Claim(run_id, "host", 1, "me", NOW, NOW + timedelta(hours=1))


class ClaimsTable:
    """The claims table's rows, as change_claims_board reads and writes them."""

    def __init__(self, adapter_type: str = "postgres", rows: list[Any] | None = None) -> None:
        self.adapter_type = adapter_type
        self.transactions_disabled = False
        self.rows: list[Any] = [""] if rows is None else rows
        self.writes: list[str] = []
        self.failures: list[Exception] = []
        self.calls = 0
        self.skip_change = False

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        assert name == "change_claims_board"
        assert kwargs["state_table"] == "analytics.orc_state"
        self.calls += 1
        if self.skip_change:
            return None
        written = kwargs["change"](list(self.rows))
        if self.failures:  # the write or the commit fails: nothing is kept
            raise self.failures.pop(0)
        if written is not None:
            self.writes.append(written)
            self.rows = [written]
        return None

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool:
        raise AssertionError("claims never look the table up")


def backend(table: ClaimsTable) -> WarehouseBackend:
    return WarehouseBackend("analytics.orc_state", lambda: table)


def taking(run_id: str, keys: list[str]) -> Any:
    def change(board: dict[str, Claim]) -> Any:
        taken = take(board, keys, claim(run_id), NOW)
        return taken.board, taken

    return change


# --- which adapters ----------------------------------------------------------------------------


@pytest.mark.parametrize("adapter_type", ["postgres", "duckdb"])
def test_postgres_and_duckdb_hold_the_board(adapter_type: str) -> None:
    assert backend(ClaimsTable(adapter_type)).no_claims_reason is None


@pytest.mark.parametrize(
    ("adapter_type", "words"),
    [
        ("snowflake", "dbt-snowflake commits every statement on its own"),
        ("bigquery", "dbt-bigquery runs every statement as a job of its own"),
        ("databricks", "Databricks commits every statement on its own"),
        ("spark", "Spark has no transactions"),
        ("redshift", "only on PostgreSQL and DuckDB, not on redshift"),
    ],
)
def test_other_warehouses_say_why_they_cannot(adapter_type: str, words: str) -> None:
    reason = backend(ClaimsTable(adapter_type)).no_claims_reason
    assert reason is not None and words in reason
    assert "\n" not in reason and not reason.endswith(".")


@pytest.mark.parametrize("adapter_type", ["postgres", "duckdb"])
def test_a_profile_without_transactions_cannot(adapter_type: str) -> None:
    table = ClaimsTable(adapter_type)
    table.transactions_disabled = True
    assert backend(table).no_claims_reason == (
        "the dbt profile makes every statement commit on its own (disable_transactions or "
        "autocommit), so nothing holds the claims board from its read to its write"
    )


@pytest.mark.parametrize(
    ("settings", "disabled"),
    [
        ({}, False),
        ({"autocommit": False, "disable_transactions": False}, False),
        ({"autocommit": True}, True),  # dbt-postgres
        ({"disable_transactions": True}, True),  # dbt-duckdb
    ],
)
def test_the_profile_settings_that_disable_transactions(
    settings: dict[str, bool], disabled: bool
) -> None:
    credentials = SimpleNamespace(**settings)
    session = SimpleNamespace(
        adapter_type="postgres", config=SimpleNamespace(credentials=credentials)
    )
    warehouse = Warehouse(session)
    assert warehouse.adapter_type == "postgres"
    assert warehouse.transactions_disabled is disabled


def test_the_adapter_is_asked_only_when_the_reason_is() -> None:
    """Opening the backend parses no dbt project; the scoped backend asks the inner one."""
    opened: list[ClaimsTable] = []

    def dbt() -> ClaimsTable:
        opened.append(ClaimsTable("bigquery"))
        return opened[-1]

    scoped = ScopedBackend(WarehouseBackend("analytics.orc_state", dbt), KeyScope("acct"))
    assert opened == []
    reason = scoped.no_claims_reason
    assert reason is not None and "dbt-bigquery" in reason
    assert len(opened) == 1


# --- change_claims -----------------------------------------------------------------------------


def test_a_changed_board_is_written_as_its_json() -> None:
    table = ClaimsTable()
    state = backend(table)

    taken = state.change_claims(taking("run-1", ["a", "b"]))

    assert taken.held == ["a", "b"]
    assert table.writes == [dump_board({"a": claim("run-1"), "b": claim("run-1")})]
    blocked = state.change_claims(taking("run-2", ["b", "c"]))
    assert blocked.held == ["c"] and list(blocked.blocked) == ["b"]
    assert parse_board(table.rows[0]) == {
        "a": claim("run-1"),
        "b": claim("run-1"),
        "c": claim("run-2"),
    }


def test_an_unchanged_board_is_not_written() -> None:
    text = dump_board({"a": claim("run-1")})
    table = ClaimsTable(rows=[text])
    state = backend(table)

    assert state.change_claims(lambda board: (board, sorted(board))) == ["a"]
    # Releasing what another run holds changes nothing either.
    assert state.change_claims(lambda board: (release(board, ["a"], "run-2"), None)) is None
    assert table.writes == []


def test_change_gets_a_board_of_its_own() -> None:
    table = ClaimsTable(rows=[dump_board({"a": claim("run-1")})])

    def clear(board: dict[str, Claim]) -> tuple[dict[str, Claim], None]:
        board.clear()  # changed in place: still a change to write
        return board, None

    backend(table).change_claims(clear)
    assert table.writes == [dump_board({})]


CORRUPT = [
    (["{not json"], "is corrupt (not JSON"),
    (['{"claims": {"a": {}}}'], 'is corrupt (claim "a": expected the fields'),
    ([None], "holds NULL, not a claims board"),
    ([7], "holds not text (int '7'), not a claims board"),
    ([], "has 0 rows, not its one board row"),
    (["", ""], "has 2 rows, not its one board row"),
]


@pytest.mark.parametrize(("rows", "words"), CORRUPT)
def test_a_board_orc_cannot_trust_is_one_line(rows: list[Any], words: str) -> None:
    table = ClaimsTable(rows=rows)
    called: list[Any] = []

    with pytest.raises(OrcError) as raised:
        backend(table).change_claims(lambda board: called.append(board) or ({}, None))

    message = str(raised.value)
    assert message.startswith(f"{WHERE} {words}"), message
    assert message.endswith(": drop it when no orc run is going on (orc makes it again)")
    assert "\n" not in message
    assert called == [] and table.writes == [] and table.calls == 1


def test_a_corrupt_board_is_reported_over_a_failed_commit() -> None:
    table = ClaimsTable(rows=["{not json"])
    table.failures = [RuntimeError("commit failed")]
    with pytest.raises(OrcError, match="is corrupt"):
        backend(table).change_claims(lambda board: (board, None))
    assert table.calls == 1


def test_an_error_of_change_reaches_the_caller_as_it_is() -> None:
    def broken(board: dict[str, Claim]) -> Any:
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        backend(ClaimsTable()).change_claims(broken)


def test_a_failed_change_is_tried_again_on_the_board_as_it_then_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The later of two DuckDB writers fails; its change is applied again to the board the
    winner wrote."""
    monkeypatch.setattr("orchestra_dbt_py.state.table.time.sleep", lambda _: None)
    table = ClaimsTable()
    waits: list[str] = []
    state = WarehouseBackend("analytics.orc_state", lambda: table, on_wait=waits.append)
    winner = dump_board({"a": claim("run-1")})

    def conflict() -> Exception:
        table.rows = [winner]  # what the other writer committed meanwhile
        return RuntimeError("TransactionContext Error: Conflict on update!")

    table.failures = [conflict()]
    taken = state.change_claims(taking("run-2", ["a", "b"]))

    assert taken.held == ["b"] and list(taken.blocked) == ["a"]
    assert table.calls == 2
    assert parse_board(table.rows[0]) == {"a": claim("run-1"), "b": claim("run-2")}
    assert waits == []  # the first retries are routine, not worth a notice


def test_a_change_that_keeps_failing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestra_dbt_py.state.table.time.sleep", lambda _: None)
    table = ClaimsTable()
    table.failures = [RuntimeError(f"Conflict\non update {n}") for n in range(CLAIMS_ATTEMPTS)]
    waits: list[str] = []
    state = WarehouseBackend("analytics.orc_state", lambda: table, on_wait=waits.append)

    with pytest.raises(OrcError) as raised:
        state.change_claims(lambda board: ({"a": claim("run-1")}, None))

    assert str(raised.value) == (
        f"{WHERE} could not be changed: Conflict on update {CLAIMS_ATTEMPTS - 1}"
    )
    assert table.calls == CLAIMS_ATTEMPTS and table.writes == []
    assert waits and all(w.endswith("; trying again") for w in waits)


def test_a_macro_that_never_calls_change_is_an_error() -> None:
    table = ClaimsTable()
    table.skip_change = True
    with pytest.raises(OrcError, match=f"^{WHERE} was not read: .* install this orc's version"):
        backend(table).change_claims(lambda board: (board, None))


def test_reading_the_board_never_creates_its_table() -> None:
    """`orc plan` shows claims: with no claims table there are none, and nothing is made."""

    class Missing(ClaimsTable):
        def __init__(self, rows: list[Any]) -> None:
            super().__init__(rows=rows)
            self.looked_up: list[tuple[str | None, str, str]] = []

        def table_exists(self, database: str | None, schema: str, identifier: str) -> bool:
            self.looked_up.append((database, schema, identifier))
            return bool(self.rows)

    missing = Missing(rows=[])
    assert backend(missing).read_claims() == {}
    assert (missing.calls, missing.looked_up) == (0, [(None, "analytics", "orc_state__claims")])
    there = Missing(rows=[dump_board({"model.p.a": claim("r1")})])
    assert backend(there).read_claims() == {"model.p.a": claim("r1")}
    assert there.writes == []
