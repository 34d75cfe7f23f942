"""What the object-store backends share: one JSON object kept consistent with conditional
writes (S3, Google Cloud Storage, Azure Blob Storage).

There is no lock. `update` reads the object and remembers its version (an ETag, a GCS
generation), merges with `merge_states`, and writes back on the condition that the object
is still at that version (or still absent, when there was none). When another writer got
there first the store refuses the write; the round is then redone from a fresh read, a
bounded number of times with jittered backoff, so no writer ever loses another's items.

A missing object reads as an empty document (`init` or the first `update` creates it). A
corrupt object is an error naming it and is never overwritten.

A store's module supplies three operations (`exists`, `_get`, `_put`) and its own one-line
errors; the rounds of reading, merging and writing are here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime

from orchestra_dbt_py.core.document import decode_document, dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import StateBackend, backoff_seconds

__all__ = ["ObjectStoreBackend", "one_line"]


class ObjectStoreBackend(StateBackend):
    """State kept in one object of a store that offers conditional writes.

    Subclasses set `description` and implement `exists`, `_get` and `_put`; they raise a
    one-line OrcError for anything but a missing object or a lost race."""

    def __init__(
        self,
        description: str,
        *,
        on_wait: Callable[[str], None] | None = None,
        max_attempts: int = 12,
        backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 1.0,
    ) -> None:
        """`on_wait` gets one message when a write has to be redone because another writer
        came first; `max_attempts` bounds the read-merge-write rounds of one `update`."""
        self.description = description
        self._on_wait = on_wait
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"

    # --- what a store supplies ---------------------------------------------------------------

    def _get(self) -> tuple[bytes, str] | None:
        """The object's bytes and version, or None when there is no object."""
        raise NotImplementedError

    def _put(self, data: bytes, version: str | None) -> bool:
        """Write `data` if the object is still at `version` (still absent when None); False
        when another writer changed it first (or, for a write after a read, deleted it)."""
        raise NotImplementedError

    # --- the StateBackend interface ----------------------------------------------------------

    def load(self) -> dict[str, NodeRecord]:
        """The document; a missing object is an empty one."""
        current, _ = self._read()
        return current or {}

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Merge `items` into the object and drop `removals` with a conditional write, redone
        from a fresh read whenever another writer changed the object in between. Creates the
        object when there is none; an unchanged document is not rewritten. Returns the merged
        document."""
        told = False
        for attempt in range(self._max_attempts):
            current, version = self._read()
            merged = merge_states(current or {}, items, removals, now=datetime.now(UTC))
            if current is not None and merged == current:
                return merged
            if self._put(dump_state(merged).encode("utf-8"), version):
                return merged
            if not told and self._on_wait is not None:
                self._on_wait(
                    f"another writer changed {self.description} while orc was saving; "
                    "merging with its changes and saving again"
                )
                told = True
            self._sleep(attempt)
        raise OrcError(
            f"could not save the state to {self.description}: other writers changed it "
            f"{self._max_attempts} times in a row while orc was saving; run the command again"
        )

    def init(self) -> bool:
        """Create an empty document unless the object exists (which is then never touched)."""
        for attempt in range(self._max_attempts):
            if self.exists():
                return False
            if self._put(dump_state({}).encode("utf-8"), None):
                return True
            self._sleep(attempt)  # a competing write is in flight; look again
        return False

    # --- internals ---------------------------------------------------------------------------

    def _read(self) -> tuple[dict[str, NodeRecord] | None, str | None]:
        """The whole parsed object and its version, or (None, None) when there is none."""
        found = self._get()
        if found is None:
            return None, None
        data, version = found
        text = decode_document(data, self.description)
        return parse_state(text, self.description), version

    def _sleep(self, attempt: int) -> None:
        time.sleep(backoff_seconds(attempt, self._backoff, self._max_backoff))


def one_line(error: BaseException | str) -> str:
    """An error's text on one line, without URL query strings (where a shared access
    signature or a token could be), for an OrcError."""
    text = error if isinstance(error, str) else str(error)
    words = []
    for word in text.split():
        if "://" in word and "?" in word:
            word = word.split("?", 1)[0] + "?..."
        words.append(word)
    detail = " ".join(words)
    if not detail and not isinstance(error, str):
        detail = type(error).__name__
    return detail
