"""The warehouse table backend: `state_file = "warehouse:<schema>.<table>"`.

The state lives in a table of the target warehouse, one row per state key (see
`macros/state_table/` for the table and its SQL). Every read and write goes through the
dbt package's macros, run by the dbt adapter of the project orc runs (`DbtSession`), so the
SQL is the same one the package's hooks use and each warehouse gets its own dialect:

* a write appends rows, deletes the rows they supersede and commits, in one transaction:
  concurrent writers never conflict, and none loses another's rows;
* a read takes the newest row of each key, which is the merge rule of every backend, after
  checking every row: a row with no key or item, an item that cannot be read, or a
  `last_updated` text that is not its item's time (`fixed_time`) stops it with one line.

The table is created on the first write; a missing table reads as an empty state.

Claims (`change_claims`) live beside it, in `<table>__claims`: one row holding the whole
board as JSON (`core.claims.dump_board`), made with its table by one statement. A change
is one transaction of `change_claims_board`: read the row, apply the change, write the row
if the board changed, commit. One row, not one per claim, because a change is a function
of the whole board (expired and dead claims go, the wanted keys come), and one row is what
makes that atomic: PostgreSQL locks it (`for update`) from the read to the commit, and
DuckDB, which has no locks, fails the later of two transactions that write it (tried
again). The other warehouses' dbt adapters run each statement on its own, so the board
cannot be held from its read to its write there: `no_claims_reason` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from orchestra_dbt_py.core.claims import Claim, dump_board
from orchestra_dbt_py.core.document import dump_item_json, parse_item_json
from orchestra_dbt_py.core.records import CLOCK_SKEW, NodeRecord, merge_states, prevails
from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.location import WAREHOUSE_SCHEME
from orchestra_dbt_py.state.backend import (
    ClaimsChange,
    StateBackend,
    backoff_seconds,
    stored_board,
)

__all__ = ["MacroCaller", "WarehouseBackend"]

T = TypeVar("T")

# A write that fails (e.g. PostgreSQL ends one of two deadlocked writers) is tried again.
WRITE_ATTEMPTS = 3
# A change of the claims board that fails is tried again: on DuckDB, the later of two
# concurrent changes always fails, and a run changes its claims often (every heartbeat).
CLAIMS_ATTEMPTS = 10
# The adapters whose transactions hold the claims board from its read to its write.
CLAIMS_ADAPTERS = frozenset({"postgres", "duckdb"})
_UNHELD = "so nothing holds the claims board from its read to its write"
NO_CLAIMS = {
    "snowflake": f"dbt-snowflake commits every statement on its own, {_UNHELD}",
    "bigquery": f"dbt-bigquery runs every statement as a job of its own, outside any "
    f"transaction, {_UNHELD}",
    "databricks": f"Databricks commits every statement on its own, {_UNHELD}",
    "spark": f"Spark has no transactions, {_UNHELD}",
}


class MacroCaller(Protocol):
    """What the backend needs from dbt: the adapter, call a macro of the orchestra_dbt
    package, and ask the warehouse whether a table exists."""

    @property
    def adapter_type(self) -> str: ...

    @property
    def transactions_disabled(self) -> bool: ...

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any: ...

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool: ...


def fixed_time(moment: datetime) -> str:
    """UTC as fixed-width text, `YYYY-MM-DDTHH:MM:SS.ffffffZ` with a four-digit year, so
    that text order is time order in every year (the table's sort key); naive values are
    UTC. The package's `_state_time` macro writes the same text (`strftime("%Y")` would
    not: it writes the year 999 as `999`, which sorts after 2026)."""
    utc = moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class WarehouseBackend(StateBackend):
    """State kept in a table of the warehouse the dbt project builds into."""

    def __init__(
        self,
        table: str,
        dbt: Callable[[], MacroCaller],
        on_wait: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.description = f"{WAREHOUSE_SCHEME}{table}"
        self._dbt = dbt
        self._on_wait = on_wait
        self._clock = clock

    def __repr__(self) -> str:
        return f"WarehouseBackend({self.description!r})"

    # --- the StateBackend interface ----------------------------------------------------------

    def exists(self) -> bool:
        return self._rows(keys=()) is not None

    def load(self) -> dict[str, NodeRecord]:
        """The newest row of each key; a missing table is an empty state. Every row is
        checked first (`_record`): one that orc cannot trust stops the read."""
        records: dict[str, NodeRecord] = {}
        now = self._clock()
        for key, moment, text in self._rows() or ():
            key, record = self._record(key, moment, text)
            known = records.get(key)
            if known is None or prevails(record, known, now):  # merge_states' rule, per row
                records[key] = record
        return records

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Append `items`, drop the rows of `removals` written until now, and return the
        merged state. The table is read first: a corrupt row stops the write."""
        current = self.load()
        rows = [
            [key, "node", fixed_time(record.last_updated), dump_item_json(record)]
            for key, record in sorted(items.items())
        ]
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._call(
                    "write_state_rows",
                    rows=rows,
                    removals=sorted(removals),
                    removed_before=fixed_time(self._clock()),
                    trusted_until=fixed_time(self._clock() + CLOCK_SKEW),
                )
                break
            except _QueryFailed as error:
                if attempt == WRITE_ATTEMPTS:
                    raise
                if self._on_wait is not None:
                    self._on_wait(f"{error}; trying again")
                time.sleep(backoff_seconds(attempt, 0.25, 2.0))
        return merge_states(current, items, removals, now=self._clock())

    def init(self) -> bool:
        if self.exists():
            return False
        self._call("write_state_rows", rows=[], removals=[], removed_before=None)
        return True

    # --- claims ----------------------------------------------------------------------------

    @property
    def claims_description(self) -> str:
        """The claims table (macros/state_table/claims_table_relation.sql), for messages."""
        return f"the claims table {self.description}__claims"

    def read_claims(self) -> dict[str, Claim]:
        """The board, without creating its table when there is none (`orc plan` writes
        nothing)."""
        if not self._table_exists("__claims"):
            return {}
        return super().read_claims()

    @property
    def no_claims_reason(self) -> str | None:
        """None on PostgreSQL and DuckDB (with transactions); asks dbt for the adapter."""
        dbt = self._dbt()
        adapter = dbt.adapter_type
        if adapter in CLAIMS_ADAPTERS and dbt.transactions_disabled:
            return (
                "the dbt profile makes every statement commit on its own (disable_transactions "
                f"or autocommit), {_UNHELD}"
            )
        if adapter in CLAIMS_ADAPTERS:
            return None
        return NO_CLAIMS.get(
            adapter,
            f"orc holds the claims board from its read to its write only on PostgreSQL and "
            f"DuckDB, not on {adapter}",
        )

    def change_claims(self, change: ClaimsChange[T]) -> T:
        """One transaction of the package's `change_claims_board`, which gives the rows it
        read to `apply` and writes the board text `apply` returns (None: unchanged, nothing
        written). A failed transaction (two DuckDB writers of the row) is tried again,
        with `change` applied again to the board as it then is."""
        results: list[T] = []
        failures: list[Exception] = []

        def apply(rows: list[Any]) -> str | None:
            # Called by the macro: an error raised here would reach orc wrapped by dbt.
            try:
                board = self._board(rows)
                changed, result = change(dict(board))
            except Exception as error:
                failures.append(error)
                return None
            results[:] = [result]
            return None if changed == board else dump_board(changed)

        for attempt in range(1, CLAIMS_ATTEMPTS + 1):
            results.clear()
            failures.clear()
            try:
                self._call("change_claims_board", change=apply)
                break
            except _QueryFailed as error:
                if failures:  # the board, or `change`, failed first
                    raise failures[0] from None
                if attempt == CLAIMS_ATTEMPTS:
                    raise
                if self._on_wait is not None and attempt >= WRITE_ATTEMPTS:
                    self._on_wait(f"{error}; trying again")
                time.sleep(backoff_seconds(attempt, 0.05, 1.0))
        if failures:
            raise failures[0]
        if not results:
            raise OrcError(
                f"{self.claims_description} was not read: the orchestra_dbt "
                "package's change_claims_board macro did not call orc; install this orc's "
                "version of the package"
            )
        return results[0]

    def _board(self, rows: list[Any]) -> dict[str, Claim]:
        """The board in the claims table's rows, or a one-line OrcError naming the table."""
        where = self.claims_description
        fix = "drop it when no orc run is going on (orc makes it again)"
        if len(rows) != 1:
            raise OrcError(f"{where} has {len(rows)} rows, not its one board row: {fix}")
        (text,) = rows
        if not isinstance(text, str):
            raise OrcError(f"{where} holds {_shown(text)}, not a claims board: {fix}")
        return stored_board(text.encode("utf-8"), where, fix)

    # --- internals ---------------------------------------------------------------------------

    def _record(self, key: object, moment: object, text: object) -> tuple[str, NodeRecord]:
        """One node row as (key, record), or a one-line OrcError naming the table, the row's
        key and the fix. The `last_updated` column must be the item's own time as
        `fixed_time` writes it: the table's SQL orders and supersedes rows by that text, so
        a row whose text says another time would outlive newer rows, or delete them.

        Rows of another kind than 'node' never get here: the select asks for 'node' rows
        only, and as no statement of orc or the hooks lets a row of another kind supersede
        a node row or be superseded by one, leaving them out changes no record."""
        where = f"state table {self.description}"
        if not isinstance(key, str):
            raise OrcError(
                f"{where} has a node row whose state_key is {_shown(key)}: delete that row; "
                "orc never overwrites it"
            )

        def invalid(problem: str, fix: str = "fix or delete it") -> OrcError:
            return OrcError(
                f"{where} has an invalid item {key!r}: {problem}: {fix}; orc never overwrites it"
            )

        if not isinstance(text, str):
            raise invalid(f"its item is {_shown(text)}")
        record = parse_item_json(key, text, f"table {self.description}")
        expected = fixed_time(record.last_updated)
        if moment != expected:
            raise invalid(
                f"its last_updated column is {_shown(moment)}, not its item's time {expected!r}",
                f"set the column to {expected!r} or delete the row",
            )
        return key, record

    def _table_exists(self, suffix: str = "") -> bool:
        """Whether the state table (or its `<table><suffix>` sibling) exists."""
        parts = self.table.split(".")
        database = parts[0] if len(parts) == 3 else None
        return bool(self._dbt().table_exists(database, parts[-2], parts[-1] + suffix))

    def _rows(self, keys: Collection[str] | None = None) -> list[tuple[Any, Any, Any]] | None:
        try:
            exists = self._table_exists()
        except OrcError:
            raise
        except Exception as error:
            raise _QueryFailed(
                f"the state table {self.description} could not be looked up: {one_line(error)}"
            ) from error
        if not exists:
            return None
        found = self._call(
            "read_state_rows",
            kind="node",
            keys=None if keys is None else list(keys),
            check_exists=False,
        )
        # As the warehouse gave them (NULL is None): `_record` checks them.
        return [(key, moment, item) for key, moment, item in found]

    def _call(self, macro: str, **kwargs: Any) -> Any:
        try:
            return self._dbt().call_package_macro(macro, {"state_table": self.table, **kwargs})
        except OrcError:
            raise
        except Exception as error:
            if macro == "change_claims_board":
                failed = f"{self.claims_description} could not be changed"
            else:
                done = "read" if macro.startswith("read") else "written"
                failed = f"the state table {self.description} could not be {done}"
            raise _QueryFailed(f"{failed}: {one_line(error)}") from error


def _shown(value: object) -> str:
    """A cell of a row, for a message: NULL, quoted text, or what it is when not text."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return f"not text ({type(value).__name__} {str(value)[:40]!r})"


class _QueryFailed(OrcError):
    """The warehouse refused a read or write of the state table."""
