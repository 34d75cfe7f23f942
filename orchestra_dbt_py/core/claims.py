"""Claims: which run is building which node right now, so that overlapping runs build each
node once. Pure: the board is read and written by the state backends, atomically.

A claim is a lease. Its holder renews it (`heartbeat`) while dbt runs and removes it once the
node's record is saved; a claim past its expiry, or held by a process known to be dead, is
free to take. A run takes every claim it can in one atomic step and never waits while it
holds one (it releases its claims before it waits), so no two runs can wait for each other.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from orchestra_dbt_py.core.items import ItemError
from orchestra_dbt_py.core.records import format_timestamp, parse_timestamp

__all__ = [
    "Board",
    "Claim",
    "ClaimError",
    "Taken",
    "dump_board",
    "free_to_take",
    "lease_end",
    "parse_board",
    "release",
    "renew",
    "take",
]


class ClaimError(ItemError):
    """A claims board that cannot be trusted (the caller names where it was read)."""


@dataclass(frozen=True)
class Claim:
    """One run's lease on one node."""

    run_id: str
    # Who holds it, as shown to other runs: `user@host pid 123`.
    host: str
    pid: int
    owner: str
    started: datetime
    expires: datetime

    @property
    def label(self) -> str:
        return f"run {self.run_id} ({self.owner} on {self.host}, pid {self.pid})"


Board = Mapping[str, Claim]


@dataclass(frozen=True)
class Taken:
    """What one attempt to claim got: the board to write, the keys now held by this run,
    and the keys held by other live runs (with their claims)."""

    board: dict[str, Claim]
    held: list[str]
    blocked: dict[str, Claim]


def free_to_take(claim: Claim, run_id: str, now: datetime, dead_runs: Container[str]) -> bool:
    """Whether a run may take this claim: it is its own, expired, or its holder is dead."""
    return claim.run_id == run_id or claim.expires <= now or claim.run_id in dead_runs


def take(
    board: Board,
    wanted: Iterable[str],
    mine: Claim,
    now: datetime,
    dead_runs: Container[str] = (),
    downstream: Mapping[str, Collection[str]] | None = None,
) -> Taken:
    """Claim for `mine` every wanted key that no other live run holds, except the keys
    downstream of one that is held, wanted or not (they must wait for its result: built on
    top of it now, they would read a table being replaced and be stale at once). Expired and
    dead claims are dropped from the board. `blocked` holds the other runs' claims that
    hold back a wanted key."""
    kept = {
        key: claim
        for key, claim in board.items()
        if claim.run_id == mine.run_id or not free_to_take(claim, mine.run_id, now, dead_runs)
    }
    wanted = list(dict.fromkeys(wanted))
    below = downstream or {}
    blocked: dict[str, Claim] = {}
    waiting: set[str] = set()
    for key, claim in kept.items():
        if claim.run_id == mine.run_id:
            continue
        held_back = {key, *below.get(key, ())}.intersection(wanted)
        if held_back:
            blocked[key] = claim
            waiting |= held_back
    held = [key for key in wanted if key not in waiting]
    for key in held:
        kept[key] = mine
    return Taken(kept, held, blocked)


def release(board: Board, keys: Iterable[str], run_id: str) -> dict[str, Claim]:
    """The board without this run's claims on `keys` (another run's claims stay)."""
    dropped = set(keys)
    return {k: c for k, c in board.items() if not (k in dropped and c.run_id == run_id)}


def renew(board: Board, run_id: str, expires: datetime) -> dict[str, Claim]:
    """Push the expiry of every claim this run holds to `expires`."""
    return {k: replace(c, expires=expires) if c.run_id == run_id else c for k, c in board.items()}


def lease_end(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


# --- the stored form: {"claims": {key: {...}}} -------------------------------------------------

_FIELDS = {"run_id": str, "host": str, "pid": int, "owner": str, "started": str, "expires": str}


def dump_board(board: Board) -> str:
    return json.dumps(
        {
            "claims": {
                key: {
                    "run_id": c.run_id,
                    "host": c.host,
                    "pid": c.pid,
                    "owner": c.owner,
                    "started": format_timestamp(c.started),
                    "expires": format_timestamp(c.expires),
                }
                for key, c in sorted(board.items())
            }
        },
        sort_keys=True,
    )


def parse_board(text: str) -> dict[str, Claim]:
    """The claims in `text` (empty text is an empty board); ClaimError when any value is not
    what a claim holds."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ClaimError(f"not JSON ({' '.join(str(error).split())})") from None
    if not isinstance(document, dict) or set(document) != {"claims"}:
        raise ClaimError('not a claims document: expected {"claims": {...}}')
    claims = document["claims"]
    if not isinstance(claims, dict):
        raise ClaimError('"claims" is not an object')
    return {str(key): _parse_claim(key, value) for key, value in claims.items()}


def _parse_claim(name: str, value: Any) -> Claim:
    key = json.dumps(name)  # shown quoted: a key may hold any character, newlines included
    if not isinstance(value, dict) or set(value) != set(_FIELDS):
        raise ClaimError(f"claim {key}: expected the fields {', '.join(sorted(_FIELDS))}")
    for name, kind in _FIELDS.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool):
            raise ClaimError(f"claim {key}: {name} is not a {kind.__name__}")
    try:
        started, expires = parse_timestamp(value["started"]), parse_timestamp(value["expires"])
    except ValueError as error:
        raise ClaimError(f"claim {key}: {error}") from None
    if not value["run_id"] or value["pid"] < 0:
        raise ClaimError(f"claim {key}: an empty run_id or a negative pid")
    return Claim(value["run_id"], value["host"], value["pid"], value["owner"], started, expires)
