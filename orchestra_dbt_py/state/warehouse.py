"""The warehouse table backend: `state_file = "warehouse:<schema>.<table>"`.

The state lives in a table of the target warehouse, one row per state key (see
`macros/state_table/` for the table and its SQL). Every read and write goes through the
dbt package's macros, run by the dbt adapter of the project orc runs (`DbtSession`), so the
SQL is the same one the package's hooks use and each warehouse gets its own dialect:

* a write appends rows, deletes the rows they supersede and commits, in one transaction:
  concurrent writers never conflict, and none loses another's rows;
* a read takes the newest row of each key, which is the merge rule of every backend.

The table is created on the first write; a missing table reads as an empty state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestra_dbt_py.core.document import dump_item_json, parse_item_json
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.location import WAREHOUSE_SCHEME
from orchestra_dbt_py.state.backend import StateBackend, backoff_seconds

__all__ = ["MacroCaller", "WarehouseBackend"]

# A write that fails (e.g. PostgreSQL ends one of two deadlocked writers) is tried again.
WRITE_ATTEMPTS = 3


class MacroCaller(Protocol):
    """What the backend needs from dbt: call a macro of the orchestra_dbt package, and ask
    the warehouse whether a table exists."""

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any: ...

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool: ...


def fixed_time(moment: datetime) -> str:
    """UTC as fixed-width text, so that text order is time order (the table's sort key)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        """The newest row of each key; a missing table is an empty state."""
        rows = self._rows()
        records: dict[str, NodeRecord] = {}
        for key, _, text in rows or ():
            record = parse_item_json(key, text, f"table {self.description}")
            known = records.get(key)
            # merge_states' rule, row by row: the newer build wins, a tie goes to the later row.
            if known is None or record.last_updated >= known.last_updated:
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
                )
                break
            except _QueryFailed as error:
                if attempt == WRITE_ATTEMPTS:
                    raise
                if self._on_wait is not None:
                    self._on_wait(f"{error}; trying again")
                time.sleep(backoff_seconds(attempt, 0.25, 2.0))
        return merge_states(current, items, removals)

    def init(self) -> bool:
        if self.exists():
            return False
        self._call("write_state_rows", rows=[], removals=[], removed_before=None)
        return True

    # --- internals ---------------------------------------------------------------------------

    def _rows(self, keys: Collection[str] | None = None) -> list[tuple[str, str, str]] | None:
        parts = self.table.split(".")
        database = parts[0] if len(parts) == 3 else None
        try:
            exists = self._dbt().table_exists(database, parts[-2], parts[-1])
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
        return [(str(key), str(moment), str(item)) for key, moment, item in found]

    def _call(self, macro: str, **kwargs: Any) -> Any:
        try:
            return self._dbt().call_package_macro(macro, {"state_table": self.table, **kwargs})
        except OrcError:
            raise
        except Exception as error:
            raise _QueryFailed(
                f"the state table {self.description} could not be "
                f"{'read' if macro.startswith('read') else 'written'}: {one_line(error)}"
            ) from error


class _QueryFailed(OrcError):
    """The warehouse refused a read or write of the state table."""
