"""The state model: what the state knows about one node's last build, and the merge rule
every backend applies. Pure: no I/O here (the document format is in `document`)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

__all__ = [
    "CLOCK_SKEW",
    "RECORD_FIELDS",
    "NodeRecord",
    "format_timestamp",
    "is_future_dated",
    "merge_states",
    "parse_timestamp",
    "prevails",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# Field names of an item that NodeRecord models; everything else goes to `extra`.
RECORD_FIELDS = frozenset(
    {
        "last_updated",
        "checksum",
        "sources",
        "unmeasured_sources",
        "fingerprint",
        "relation",
        "upstream",
        "status",
        "execution_time",
        "data_versions",
        "version",
        "definition",
        "reads",
        "parent_relations",
        "target",
    }
)

# Writers' clocks differ: a record dated up to this long after the reader's clock is trusted,
# one dated later is not (a clock far ahead, an edited file): it is never reused and loses
# every merge to a record that is trusted.
CLOCK_SKEW = timedelta(minutes=5)

# ISO-8601 date and time, "T" or space separated, optional seconds, fraction and offset.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?P<fraction>\.\d+)?)?"
    r"(?:[Zz]|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class NodeRecord:
    """What the state knows about one node's last build (or a test's last run).

    `fingerprint` is orc's fingerprint of the definition that was built; `hook_fingerprint`
    is set instead when the dbt package's hooks recorded the build (one record has at most
    one of them). `data_versions` holds the data version of each source the build read;
    `version` the data version of the node's own table right after the build (`{}` where
    the warehouse offers none; None in records of older tools, which are never reused).
    `definition` holds the named parts of `fingerprint` with a short digest each, so that a
    later run can say what changed (None in records without them). `reads` holds what the
    compiled SQL read beyond its refs and sources (relations by name, table functions, the
    clock; see `core.implicit`) with the version or value of each at plan time, for the
    definition this record's fingerprint names (None: not known, an older record).
    `parent_relations` holds, for a view, the relation its SQL named for each model, seed
    and snapshot it reads (`graph.named_relations`) when it was created: a view reads those
    names until it is created again (None: not known, or not a view).
    `target` is the dbt target whose run wrote the record (None in older records).

    All timestamps are timezone-aware UTC (naive values given to the constructor are taken
    as UTC, other offsets are converted). Mappings are read-only
    copies, and `extra` is frozen deeply (objects become read-only mappings, arrays become
    tuples), so a record can be shared freely between threads and callers.
    """

    last_updated: datetime
    checksum: str | None = None
    sources: Mapping[str, datetime | None] = field(default_factory=lambda: _EMPTY)
    fingerprint: str | None = None
    relation: str | None = None
    upstream: Mapping[str, datetime] = field(default_factory=lambda: _EMPTY)
    status: str | None = None
    execution_time: float | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    hook_fingerprint: str | None = None
    data_versions: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)
    version: Mapping[str, str] | None = None
    definition: Mapping[str, str] | None = None
    reads: Mapping[str, Mapping[str, str]] | None = None
    parent_relations: Mapping[str, str] | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.last_updated, datetime):
            raise TypeError("NodeRecord.last_updated must be a datetime")
        if self.fingerprint is not None and self.hook_fingerprint is not None:
            raise ValueError("a NodeRecord has orc's fingerprint or the hooks', not both")
        set_ = object.__setattr__
        set_(self, "last_updated", _as_utc(self.last_updated))
        if self.checksum == "":
            set_(self, "checksum", None)
        set_(
            self,
            "sources",
            MappingProxyType(
                {k: None if v is None else _as_utc(v) for k, v in self.sources.items()}
            ),
        )
        set_(
            self,
            "upstream",
            MappingProxyType({k: _as_utc(v) for k, v in self.upstream.items()}),
        )
        set_(
            self,
            "data_versions",
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.data_versions.items()}),
        )
        for name in ("version", "definition", "parent_relations"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, MappingProxyType(dict(value)))
        if self.reads is not None:
            frozen = {k: MappingProxyType(dict(v)) for k, v in self.reads.items()}
            set_(self, "reads", MappingProxyType(frozen))
        if self.execution_time is not None:
            set_(self, "execution_time", float(self.execution_time))
        clashes = sorted(RECORD_FIELDS.intersection(self.extra))
        if clashes:
            raise ValueError(f"NodeRecord.extra may not hold known fields: {clashes}")
        set_(self, "extra", _freeze(self.extra))


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 date-time; naive values are UTC. Raises ValueError when invalid."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an ISO-8601 date and time")
    text = value
    fraction = match.group("fraction")
    if fraction is not None and len(fraction) > 7:
        # Finer than microseconds (e.g. nanoseconds): keep the first six digits.
        start = match.start("fraction")
        text = value[: start + 7] + value[match.end("fraction") :]
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return _as_utc(datetime.fromisoformat(text))
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC") from None


def format_timestamp(moment: datetime) -> str:
    """`2026-11-22T07:31:17Z`, with `.ffffff` only when the microseconds are not zero."""
    return _as_utc(moment).replace(tzinfo=None).isoformat() + "Z"


def is_future_dated(record: NodeRecord, now: datetime) -> bool:
    """Whether `record` claims a build later than `now` allows (beyond CLOCK_SKEW)."""
    # Added to `now`, not taken from the record: a record of year 1 must not overflow.
    return record.last_updated > _as_utc(now) + CLOCK_SKEW


def prevails(candidate: NodeRecord, existing: NodeRecord, now: datetime) -> bool:
    """Whether `candidate` replaces `existing` in a merge (the two describe one node).

    A trusted record beats a future-dated one; then the later build wins; for one build
    (same `last_updated`), the record holding its table's measured data version wins; any
    other tie is broken by content, so that every writer picks the same record.
    """
    first, second = _rank(candidate, now), _rank(existing, now)
    if first != second:
        return first > second
    return _content(candidate) > _content(existing)


def merge_states(
    current: Mapping[str, NodeRecord],
    updates: Mapping[str, NodeRecord],
    removals: Collection[str] = (),
    *,
    now: datetime,
) -> dict[str, NodeRecord]:
    """Merge `updates` into `current` item by item; the rule every backend applies.

    For a key present in both, the record that `prevails` (judged at `now`, the caller's
    clock) is kept. Keys only in one side are kept. Keys in `removals` are dropped
    afterwards (even when `updates` holds them). The inputs are not modified. Without
    removals, the merge is commutative, associative and idempotent.
    """
    merged = dict(current)
    for key, record in updates.items():
        existing = merged.get(key)
        if existing is None or (record is not existing and prevails(record, existing, now)):
            merged[key] = record
    for key in removals:
        merged.pop(key, None)
    return merged


def _rank(record: NodeRecord, now: datetime) -> tuple[bool, datetime, bool]:
    return (not is_future_dated(record, now), record.last_updated, bool(record.version))


def _content(record: NodeRecord) -> str:
    values = [_plain(getattr(record, item.name)) for item in fields(record)]
    return json.dumps(values, sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value
