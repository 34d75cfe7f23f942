"""What every state backend offers, and what they share: the account scope wrapper and the
pause between retries."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

from orchestra_dbt_py.core.claims import Claim, ClaimError, parse_board
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError, one_line

__all__ = ["ClaimsChange", "ScopedBackend", "StateBackend", "backoff_seconds", "stored_board"]

T = TypeVar("T")
# Given the claims board as it stands, the board to write and what to return to the caller.
ClaimsChange = Callable[[dict[str, Claim]], tuple[dict[str, Claim], T]]


class StateBackend:
    """Where the state document lives. Backends differ only in I/O and in how they keep
    concurrent writers apart; every one applies `merge_states` when it writes."""

    # Where the state lives, as shown to users (a path or URI; never a secret).
    description: str = ""
    # During a run, save finished nodes at most this often: a local save is cheap, a remote
    # one is a request.
    checkpoint_seconds: float = 2.0
    # Whether `journal` keeps each outcome at once: checkpoints then only fold the journal
    # into the document, and are rarer (`recorder.RunRecorder`).
    journaled: bool = False

    def load(self) -> dict[str, NodeRecord]:
        """The whole document; OrcError when it is unreadable or corrupt. A missing local file
        is an error; a missing object or table is an empty document."""
        raise NotImplementedError

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Read, merge and write back as one step under the backend's concurrency control;
        returns the merged document."""
        raise NotImplementedError

    def save(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        """`update` for a caller that does not need the merged document back (a run's
        checkpoints); a backend may then spare itself the work of returning it."""
        self.update(items, removals)

    def journal(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        """Keep one node's outcome at once, where that is cheap (an append to a local file).
        Backends without a journal keep nothing here: the next checkpoint carries it."""

    def init(self) -> bool:
        """Create an empty document if there is none: True when created, False when one was
        already there (which is never touched)."""
        raise NotImplementedError

    @property
    def no_claims_reason(self) -> str | None:
        """Why overlapping runs cannot coordinate through this backend (None when they
        can). A backend may know only once it is used (the warehouse's adapter)."""
        return "this backend offers no atomic conditional write"

    def read_claims(self) -> dict[str, Claim]:
        """The claims board as it stands (`orc plan`): nothing is created or written."""
        return self.change_claims(_unchanged)

    def change_claims(self, change: ClaimsChange[T]) -> T:
        """Read the claims board, apply `change` and write its board back, as one atomic step
        (the same concurrency control as `update`; the board is stored beside the document,
        never in it). Only called when `no_claims_reason` is None. `change` must be pure:
        it may be called again after a lost race, and while the backend holds its lock."""
        raise NotImplementedError

    def exists(self) -> bool:
        """True when a document is there."""
        raise NotImplementedError


class ScopedBackend(StateBackend):
    """A backend seen through an account scope: only keys with the account's prefix are
    shown, written or removed; the other keys in the document are kept as they are."""

    def __init__(self, inner: StateBackend, scope: KeyScope) -> None:
        self.inner = inner
        self.scope = scope
        self.description = inner.description
        self.checkpoint_seconds = inner.checkpoint_seconds
        self.journaled = inner.journaled

    @property
    def no_claims_reason(self) -> str | None:
        return self.inner.no_claims_reason

    def __repr__(self) -> str:
        return f"ScopedBackend({self.inner!r}, prefix={self.scope.prefix!r})"

    def load(self) -> dict[str, NodeRecord]:
        return self.scope.within(self.inner.load())

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        merged = self.inner.update(self.scope.within(items), self.scope.keys_within(removals))
        return self.scope.within(merged)

    def save(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        self.inner.save(self.scope.within(items), self.scope.keys_within(removals))

    def journal(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        self.inner.journal(self.scope.within(items), self.scope.keys_within(removals))

    def init(self) -> bool:
        return self.inner.init()

    def read_claims(self) -> dict[str, Claim]:
        return self.inner.read_claims()

    def change_claims(self, change: ClaimsChange[T]) -> T:
        return self.inner.change_claims(change)

    def exists(self) -> bool:
        return self.inner.exists()


def _unchanged(board: dict[str, Claim]) -> tuple[dict[str, Claim], dict[str, Claim]]:
    return board, dict(board)


def backoff_seconds(attempt: int, base: float, ceiling: float) -> float:
    """How long to wait before try `attempt + 1` (0 after the first): exponential up to
    `ceiling`, jittered so that competing writers do not retry in step."""
    top = min(ceiling, base * 2**attempt)
    return random.uniform(top / 2, top)


def stored_board(
    data: bytes | None,
    where: str,
    fix: str = "delete it when no orc run is going on (orc starts a new one)",
) -> dict[str, Claim]:
    """The claims board stored in `where` ("the claims board <path>"; None: there is none
    yet, an empty board); a one-line OrcError naming it when it cannot be trusted. Never
    repaired: a board nobody can read would let two runs build the same node."""
    if data is None:
        return {}
    try:
        return parse_board(data.decode("utf-8"))
    except (UnicodeDecodeError, ClaimError) as error:
        detail = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else one_line(error)
        raise OrcError(f"{where} is corrupt ({detail}): {fix}") from None
