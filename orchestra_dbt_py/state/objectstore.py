"""What the object-store backends share: one JSON object kept consistent with conditional
writes (S3, Google Cloud Storage, Azure Blob Storage).

There is no lock. `update` reads the object and remembers its version (an ETag, a GCS
generation), merges with `merge_states`, and writes back on the condition that the object
is still at that version (or still absent, when there was none). When another writer got
there first the store refuses the write; the round is then redone from a fresh read, a
bounded number of times with jittered backoff, so no writer ever loses another's items.

A missing object reads as an empty document (`init` or the first `update` creates it). A
corrupt object is an error naming it and is never overwritten.

The claims board of overlapping runs is a sibling object `<key>.claims`, changed by the same
rounds of conditional writes (`change_claims`).

A store's module supplies three operations (`exists`, `_get`, `_put`) and its own one-line
errors; the rounds of reading, changing and writing are here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from orchestra_dbt_py.core.claims import dump_board
from orchestra_dbt_py.core.document import decode_document, dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import (
    ClaimsChange,
    StateBackend,
    backoff_seconds,
    stored_board,
)

__all__ = ["ObjectStoreBackend"]

R = TypeVar("R")
# Given the object's bytes (None: there is no object), the bytes to write (None: leave it as
# it is) and what to return.
Rewrite = Callable[[bytes | None], tuple[bytes | None, R]]


class ObjectStoreBackend(StateBackend):
    """State kept in one object of a store that offers conditional writes.

    Subclasses implement `exists`, `_get` and `_put`; they raise a one-line OrcError for
    anything but a missing object or a lost race."""

    no_claims_reason = None

    def __init__(
        self,
        description: str,
        key: str,
        *,
        on_wait: Callable[[str], None] | None = None,
        max_attempts: int = 12,
        backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 1.0,
    ) -> None:
        """`description` is the document's URI and `key` its name in the store; `on_wait`
        gets one message when a save has to be redone because another writer came first;
        `max_attempts` bounds the read-change-write rounds of one `update`."""
        self.description = description
        self.key = key
        self._on_wait = on_wait
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"

    # --- what a store supplies ---------------------------------------------------------------

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """The bytes and version of the object `key`, or None when there is no object."""
        raise NotImplementedError

    def _put(self, key: str, data: bytes, version: str | None) -> bool:
        """Write `data` to `key` if the object is still at `version` (still absent when None);
        False when another writer changed it first (or, for a write after a read, deleted
        it)."""
        raise NotImplementedError

    # --- the StateBackend interface ----------------------------------------------------------

    def load(self) -> dict[str, NodeRecord]:
        """The document; a missing object is an empty one."""
        found = self._get(self.key)
        return {} if found is None else self._parse(found[0])

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Merge `items` into the object and drop `removals` with a conditional write, redone
        from a fresh read whenever another writer changed the object in between. Creates the
        object when there is none; an unchanged document is not rewritten. Returns the merged
        document."""

        def merge(data: bytes | None) -> tuple[bytes | None, dict[str, NodeRecord]]:
            current = None if data is None else self._parse(data)
            merged = merge_states(current or {}, items, removals, now=datetime.now(UTC))
            if current is not None and merged == current:
                return None, merged
            return dump_state(merged).encode("utf-8"), merged

        return self._rewrite(
            self.key,
            merge,
            redoing=f"another writer changed {self.description} while orc was saving; "
            "merging with its changes and saving again",
            gave_up=f"could not save the state to {self.description}: other writers changed "
            f"it {self._max_attempts} times in a row while orc was saving; run the command "
            "again",
        )

    def change_claims(self, change: ClaimsChange[R]) -> R:
        """Change the claims object `<key>.claims` with the same conditional writes as
        `update`; a missing object is an empty board, an unchanged board is not written."""
        where = f"the claims board {self.description}.claims"

        def apply(data: bytes | None) -> tuple[bytes | None, R]:
            board = stored_board(data, where)
            changed, result = change(dict(board))
            if changed == board:
                return None, result
            return dump_board(changed).encode("utf-8"), result

        return self._rewrite(
            f"{self.key}.claims",
            apply,
            redoing=None,  # claims change often and briefly: a retry is not worth a line
            gave_up=f"could not change the claims board {where}: other runs changed it "
            f"{self._max_attempts} times in a row; run the command again",
        )

    def init(self) -> bool:
        """Create an empty document unless the object exists (which is then never touched)."""
        for attempt in range(self._max_attempts):
            if self.exists():
                return False
            if self._put(self.key, dump_state({}).encode("utf-8"), None):
                return True
            self._sleep(attempt)  # a competing write is in flight; look again
        return False

    # --- internals ---------------------------------------------------------------------------

    def _rewrite(self, key: str, rewrite: Rewrite[R], *, redoing: str | None, gave_up: str) -> R:
        """Read the object `key`, let `rewrite` say what to write, and write it on the
        condition that the object is still as read; when another writer came first, tell
        `on_wait` `redoing` (once) and start again from a fresh read. OrcError `gave_up`
        after `max_attempts` lost races."""
        told = False
        for attempt in range(self._max_attempts):
            found = self._get(key)
            data, version = (None, None) if found is None else found
            new, result = rewrite(data)
            if new is None or self._put(key, new, version):
                return result
            if redoing is not None and not told and self._on_wait is not None:
                self._on_wait(redoing)
                told = True
            self._sleep(attempt)
        raise OrcError(gave_up)

    def _uri(self, key: str) -> str:
        """Where the object `key` is, as shown to users: the document, or a sibling of it
        (`<key>.claims`)."""
        return self.description + key[len(self.key) :]

    def _parse(self, data: bytes) -> dict[str, NodeRecord]:
        return parse_state(decode_document(data, self.description), self.description)

    def _sleep(self, attempt: int) -> None:
        time.sleep(backoff_seconds(attempt, self._backoff, self._max_backoff))
