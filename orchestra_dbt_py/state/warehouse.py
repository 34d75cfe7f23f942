"""The warehouse table backend: `state_file = "warehouse:<schema>.<table>"`.

The state lives in a table of the target warehouse, one row per state key (see
`macros/state_table.sql` for the table and its SQL). Every read and write goes through the
dbt package's macros, run by the dbt adapter of the project orc runs (`DbtSession`), so the
SQL is the same one the package's hooks use and each warehouse gets its own dialect:

* a write appends rows, deletes the rows they supersede and commits, in one transaction:
  concurrent writers never conflict, and none loses another's rows;
* a read takes the newest row of each key, which is the merge rule of every backend.

The table is created on the first write; a missing table reads as an empty state.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.document import (
    NodeRecord,
    dump_item_json,
    merge_states,
    parse_item_json,
)

__all__ = ["WAREHOUSE_SCHEME", "MacroCaller", "WarehouseBackend", "table_name"]

WAREHOUSE_SCHEME = "warehouse:"
# A write that fails (e.g. PostgreSQL ends one of two deadlocked writers) is tried again.
WRITE_ATTEMPTS = 3
# `<schema>.<table>` or `<database>.<schema>.<table>`, unquoted names.
_TABLE = re.compile(r"[^.\s\"'`]+(\.[^.\s\"'`]+){1,2}")


class MacroCaller(Protocol):
    """What the backend needs from dbt: call a macro of the orchestra_dbt package, and ask
    the warehouse whether a table exists."""

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any: ...

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool: ...


def table_name(uri: str) -> str:
    """The `<schema>.<table>` of a `warehouse:` URI; OrcError when it is not one."""
    text = uri.strip()
    if not text.lower().startswith(WAREHOUSE_SCHEME):
        raise OrcError(f"{uri} is not a warehouse: state URI")
    name = text[len(WAREHOUSE_SCHEME) :]
    if not _TABLE.fullmatch(name):
        raise OrcError(
            f"state_file {uri} does not name a table: write warehouse:<schema>.<table> "
            "(or warehouse:<database>.<schema>.<table>)"
        )
    return name


def fixed_time(moment: datetime) -> str:
    """UTC as fixed-width text, so that text order is time order (the table's sort key)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarehouseBackend:
    """State kept in a table of the warehouse the dbt project builds into."""

    def __init__(
        self,
        table: str,
        dbt: Callable[[], MacroCaller],
        key_prefix: str | None = None,
        on_wait: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self.description = f"{WAREHOUSE_SCHEME}{table}"
        self.key_prefix = key_prefix
        self._dbt = dbt
        self._on_wait = on_wait
        self._clock = clock

    def __repr__(self) -> str:
        return f"WarehouseBackend({self.description!r}, key_prefix={self.key_prefix!r})"

    # --- the StateBackend interface ----------------------------------------------------------

    def exists(self) -> bool:
        return self._rows(keys=()) is not None

    def load(self) -> dict[str, NodeRecord]:
        """The newest row of each key; a missing table is an empty state."""
        rows = self._rows()
        records: dict[str, NodeRecord] = {}
        for key, _, text in rows or ():
            if not self._owns(key):
                continue
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
        foreign = sorted(key for key in [*items, *removals] if not self._owns(key))
        if foreign:
            raise OrcError(
                f"cannot write {foreign[0]!r} to {self.description}: its keys must start "
                f"with {self.key_prefix!r}"
            )
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
                time.sleep(random.uniform(0.2, 1.0) * attempt)
        return merge_states(current, items, removals)

    def init(self) -> bool:
        if self.exists():
            return False
        self._call("write_state_rows", rows=[], removals=[], removed_before=None)
        return True

    # --- internals ---------------------------------------------------------------------------

    def _owns(self, key: str) -> bool:
        return self.key_prefix is None or key.startswith(self.key_prefix)

    def _rows(self, keys: Collection[str] | None = None) -> list[tuple[str, str, str]] | None:
        parts = self.table.split(".")
        database = parts[0] if len(parts) == 3 else None
        try:
            exists = self._dbt().table_exists(database, parts[-2], parts[-1])
        except OrcError:
            raise
        except Exception as error:
            raise _QueryFailed(
                f"the state table {self.description} could not be looked up: {_one_line(error)}"
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
                f"{'read' if macro.startswith('read') else 'written'}: {_one_line(error)}"
            ) from error


class _QueryFailed(OrcError):
    """The warehouse refused a read or write of the state table."""


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
