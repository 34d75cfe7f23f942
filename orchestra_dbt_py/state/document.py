"""The state document: one JSON object, the same on every backend. Pure: no I/O here.

Shape (readable by dbt-orchestra, which reads `last_updated`, `checksum` and `sources` and
ignores other fields; and able to read what dbt-orchestra writes)::

    {"state": {"<key>": {"last_updated": "2026-11-22T07:31:17Z",
                         "checksum": "...",
                         "sources": {"source.proj.raw.orders": "2026-11-22T07:00:00Z"},
                         "fingerprint": "...", "relation": "...", "upstream": {...},
                         "status": "success", "execution_time": 1.5}}}

dbt-orchestra requires `checksum` to be a string and every `sources` value to be a timestamp,
so `dump_state` writes a missing checksum as `""` and lists sources whose freshness could not
be measured under `unmeasured_sources` instead of writing `null` into `sources`.
`parse_state` reads both forms back (an empty checksum is "no checksum"; a `null` source
value is "unmeasurable") so every record survives a dump/parse round trip unchanged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from orchestra_dbt_py.errors import OrcError

__all__ = [
    "NodeRecord",
    "dump_item_json",
    "dump_state",
    "format_timestamp",
    "merge_states",
    "parse_item_json",
    "parse_state",
    "parse_timestamp",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# Field names of an item that NodeRecord models; everything else goes to `extra`.
_KNOWN_FIELDS = frozenset(
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
    }
)

# ISO-8601 date and time, "T" or space separated, optional seconds, fraction and offset.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?P<fraction>\.\d+)?)?"
    r"(?:[Zz]|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class NodeRecord:
    """What the state knows about one node's last build (or a test's last run).

    All timestamps are timezone-aware UTC (naive values given to the constructor are taken as
    UTC, other offsets are converted). Mappings are read-only copies, and `extra` is frozen
    deeply (objects become read-only mappings, arrays become tuples), so a record can be shared
    freely between threads and callers.
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

    def __post_init__(self) -> None:
        if not isinstance(self.last_updated, datetime):
            raise TypeError("NodeRecord.last_updated must be a datetime")
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
        if self.execution_time is not None:
            set_(self, "execution_time", float(self.execution_time))
        clashes = sorted(_KNOWN_FIELDS.intersection(self.extra))
        if clashes:
            raise ValueError(f"NodeRecord.extra may not hold known fields: {clashes}")
        set_(self, "extra", _freeze(self.extra))


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 date-time; naive values are UTC. Raises ValueError when invalid."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an ISO-8601 date-time")
    text = value
    fraction = match.group("fraction")
    if fraction is not None and len(fraction) > 7:
        # Finer than microseconds (e.g. nanoseconds): keep the first six digits.
        start = match.start("fraction")
        text = value[: start + 7] + value[match.end("fraction") :]
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return _as_utc(datetime.fromisoformat(text))


def format_timestamp(moment: datetime) -> str:
    """`2026-11-22T07:31:17Z`, with `.ffffff` only when the microseconds are not zero."""
    return _as_utc(moment).replace(tzinfo=None).isoformat() + "Z"


def parse_state(text: str, origin: str) -> dict[str, NodeRecord]:
    """Parse and strictly validate a state document.

    `origin` says where the text came from (a path or URI); every error names it, says what is
    wrong and where, and is raised as OrcError. Nothing is repaired or dropped silently.
    """

    def fail(problem: str) -> OrcError:
        return OrcError(f"state file {origin} {problem}: fix or move it; orc never overwrites it")

    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as error:
        raise fail(f"is not valid JSON (line {error.lineno}: {error.msg})") from None
    except _DocumentError as error:
        raise fail(str(error)) from None
    if not isinstance(document, dict):
        raise fail(f"must hold a JSON object, not {_json_type(document)}")
    if "state" not in document:
        raise fail('has no top-level "state" object')
    unexpected = sorted(set(document) - {"state"})
    if unexpected:
        raise fail(f'has unexpected top-level key {unexpected[0]!r} (only "state" is allowed)')
    items = document["state"]
    if not isinstance(items, dict):
        raise fail(f'has a "state" that is {_json_type(items)}, not an object')
    records: dict[str, NodeRecord] = {}
    for key, item in items.items():
        try:
            records[key] = _parse_item(item)
        except _DocumentError as error:
            raise fail(f"has an invalid item {key!r}: {error}") from None
    return records


def dump_state(
    items: Mapping[str, NodeRecord],
    cache: MutableMapping[str, tuple[NodeRecord, str]] | None = None,
) -> str:
    """Serialise records deterministically (sorted keys, two-space indent, final newline).

    With `cache`, the text of each record is kept and reused for as long as the same record
    object is saved again, so a checkpoint that changes a few records serialises only those.
    """
    if not items:
        return '{\n  "state": {}\n}\n'
    parts = []
    for key in sorted(items):
        record = items[key]
        cached = cache.get(key) if cache is not None else None
        if cached is not None and cached[0] is record:
            text = cached[1]
        else:
            item = json.dumps(
                _dump_item(record), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
            )
            text = item.replace("\n", "\n    ")
            if cache is not None:
                cache[key] = (record, text)
        parts.append(f"    {json.dumps(key, ensure_ascii=False)}: {text}")
    if cache is not None:
        for stale in cache.keys() - items.keys():
            del cache[stale]
    return '{\n  "state": {\n' + ",\n".join(parts) + "\n  }\n}\n"


def dump_item_json(record: NodeRecord) -> str:
    """One record as compact JSON, in the document's item shape (for one row of a table)."""
    return json.dumps(_dump_item(record), sort_keys=True, ensure_ascii=False, allow_nan=False)


def parse_item_json(key: str, text: str, origin: str) -> NodeRecord:
    """Parse and strictly validate one item kept on its own (a row of a state table);
    errors are OrcError naming `origin` and the key."""
    try:
        item = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
        return _parse_item(item)
    except (json.JSONDecodeError, _DocumentError) as error:
        problem = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise OrcError(
            f"state {origin} has an invalid item {key!r}: {problem}: fix or delete it; "
            "orc never overwrites it"
        ) from None


def dump_journal_line(items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> str:
    """One line of a state journal: records to merge, or keys to drop, in the order written."""
    if removals:
        return json.dumps({"removed": sorted(removals)}, ensure_ascii=False) + "\n"
    document = {"state": {key: _dump_item(record) for key, record in items.items()}}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def replay_journal(
    records: Mapping[str, NodeRecord], text: str, origin: str
) -> dict[str, NodeRecord]:
    """Apply a journal's complete lines to `records` in order; a last line cut short by a
    crash is ignored, any other unreadable line is an error naming `origin`."""
    merged = dict(records)
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if not line.endswith("\n"):
            break  # the writer died in the middle of this line
        try:
            removed = json.loads(line).get("removed")
        except (ValueError, AttributeError):
            raise OrcError(
                f"state journal {origin} has an unreadable line {number}: fix or move it"
            ) from None
        if removed is not None:
            for key in removed:
                merged.pop(key, None)
        else:
            merged = merge_states(merged, parse_state(line, f"{origin} line {number}"))
    return merged


def merge_states(
    current: Mapping[str, NodeRecord],
    updates: Mapping[str, NodeRecord],
    removals: Collection[str] = (),
) -> dict[str, NodeRecord]:
    """Merge `updates` into `current` item by item; the rule every backend applies.

    For a key present in both, the record with the newer `last_updated` wins and a tie goes to
    the update. Keys only in `current` are kept. Keys in `removals` are dropped afterwards
    (even when `updates` holds them). The inputs are not modified.
    """
    merged = dict(current)
    for key, record in updates.items():
        existing = merged.get(key)
        if existing is None or record.last_updated >= existing.last_updated:
            merged[key] = record
    for key in removals:
        merged.pop(key, None)
    return merged


# --- internals -----------------------------------------------------------------------------


class _DocumentError(ValueError):
    """A validation problem inside the document; parse_state adds the origin."""


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


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _unique_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DocumentError(f"repeats the key {key!r} in one object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise _DocumentError(f"holds {name}, which is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _DocumentError(f"holds the number {text}, which is too large")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _timestamp(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise _DocumentError(f"{what} must be a timestamp string, not {_json_type(value)}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _DocumentError(f"{what} is not an ISO-8601 timestamp: {value!r}") from None


def _optional_str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _DocumentError(f'"{name}" must be a string or null, not {_json_type(value)}')


def _object(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _DocumentError(f'"{name}" must be an object, not {_json_type(value)}')
    return value


def _parse_item(item: Any) -> NodeRecord:
    if not isinstance(item, dict):
        raise _DocumentError(f"it must be an object, not {_json_type(item)}")
    if "last_updated" not in item:
        raise _DocumentError('"last_updated" is missing')
    last_updated = _timestamp(item["last_updated"], '"last_updated"')

    sources: dict[str, datetime | None] = {}
    for source, observed in _object(item, "sources").items():
        sources[source] = (
            None if observed is None else _timestamp(observed, f'"sources" of {source!r}')
        )
    unmeasured = item.get("unmeasured_sources")
    if unmeasured is not None:
        if not isinstance(unmeasured, list) or not all(isinstance(s, str) for s in unmeasured):
            raise _DocumentError('"unmeasured_sources" must be an array of strings')
        for source in unmeasured:
            if sources.get(source) is not None:
                raise _DocumentError(f'{source!r} is both in "sources" and in "unmeasured_sources"')
            sources[source] = None

    upstream = {
        node: _timestamp(moment, f'"upstream" of {node!r}')
        for node, moment in _object(item, "upstream").items()
    }

    execution_time = item.get("execution_time")
    if execution_time is not None and (
        isinstance(execution_time, bool)
        or not isinstance(execution_time, int | float)
        or not math.isfinite(execution_time)
        or execution_time < 0
    ):
        raise _DocumentError('"execution_time" must be a non-negative number or null')

    return NodeRecord(
        last_updated=last_updated,
        checksum=_optional_str(item, "checksum"),
        sources=sources,
        fingerprint=_optional_str(item, "fingerprint"),
        relation=_optional_str(item, "relation"),
        upstream=upstream,
        status=_optional_str(item, "status"),
        execution_time=None if execution_time is None else float(execution_time),
        extra={key: value for key, value in item.items() if key not in _KNOWN_FIELDS},
    )


def _dump_item(record: NodeRecord) -> dict[str, Any]:
    item: dict[str, Any] = _thaw(record.extra)
    item["last_updated"] = format_timestamp(record.last_updated)
    item["checksum"] = record.checksum or ""
    item["sources"] = {
        source: format_timestamp(moment)
        for source, moment in record.sources.items()
        if moment is not None
    }
    unmeasured = sorted(source for source, moment in record.sources.items() if moment is None)
    if unmeasured:
        item["unmeasured_sources"] = unmeasured
    if record.upstream:
        item["upstream"] = {
            node: format_timestamp(moment) for node, moment in record.upstream.items()
        }
    for name in ("fingerprint", "relation", "status", "execution_time"):
        value = getattr(record, name)
        if value is not None:
            item[name] = value
    return item
