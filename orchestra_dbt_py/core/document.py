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
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from datetime import datetime
from typing import Any

from orchestra_dbt_py.core.records import (
    RECORD_FIELDS,
    NodeRecord,
    format_timestamp,
    merge_states,
    parse_timestamp,
)
from orchestra_dbt_py.errors import OrcError

__all__ = [
    "decode_document",
    "dump_item_json",
    "dump_journal_line",
    "dump_state",
    "parse_item_json",
    "parse_state",
    "parse_unsaved",
    "replay_journal",
    "unsaved_document",
]

# The dbt package's hooks write their fingerprints with this prefix (`hook1:<md5>`), in the
# same `fingerprint` field as orc's sha256: this is the one place that tells them apart.
_HOOK_FINGERPRINT_PREFIX = "hook"


def decode_document(data: bytes, origin: str) -> str:
    """The text of a state document read from anywhere (a UTF-8 byte order mark is allowed)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OrcError(
            f"state file {origin} is not UTF-8 text: fix or move it; orc never overwrites it"
        ) from None


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


# --- internals -----------------------------------------------------------------------------


class _DocumentError(ValueError):
    """A validation problem inside the document; parse_state adds the origin."""


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


def _version(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _DocumentError(f"{what} must be an object of strings")
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

    data_versions = {
        source: _version(version, f'"data_versions" of {source!r}')
        for source, version in _object(item, "data_versions").items()
    }
    version = None if item.get("version") is None else _version(item["version"], '"version"')

    fingerprint = _optional_str(item, "fingerprint")
    by_hook = fingerprint is not None and fingerprint.startswith(_HOOK_FINGERPRINT_PREFIX)
    return NodeRecord(
        last_updated=last_updated,
        checksum=_optional_str(item, "checksum"),
        sources=sources,
        fingerprint=None if by_hook else fingerprint,
        hook_fingerprint=fingerprint if by_hook else None,
        relation=_optional_str(item, "relation"),
        upstream=upstream,
        status=_optional_str(item, "status"),
        execution_time=None if execution_time is None else float(execution_time),
        data_versions=data_versions,
        version=version,
        extra={key: value for key, value in item.items() if key not in RECORD_FIELDS},
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
    fingerprint = record.hook_fingerprint or record.fingerprint
    if fingerprint is not None:
        item["fingerprint"] = fingerprint
    for name in ("relation", "status", "execution_time"):
        value = getattr(record, name)
        if value is not None:
            item[name] = value
    if record.data_versions:
        item["data_versions"] = {
            source: dict(version) for source, version in record.data_versions.items()
        }
    if record.version is not None:
        item["version"] = dict(record.version)
    return item


def unsaved_document(items: Mapping[str, NodeRecord], removed: Collection[str] = ()) -> str:
    """A state document plus `"removed": [keys]` when there are removals: the shape of an
    unsaved-state file and of the HTTP backend's PATCH body."""
    document = json.loads(dump_state(items))
    if removed:
        document["removed"] = sorted(removed)
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def parse_unsaved(text: str, origin: str) -> tuple[dict[str, NodeRecord], list[str]]:
    """Read a state document that may carry a `"removed"` list (an unsaved-state file, or a
    plain state file): returns the items and the removals. OrcError naming `origin` when it is
    not valid."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    removed: list[str] = []
    if isinstance(document, dict) and "removed" in document:
        value = document.pop("removed")
        if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
            raise OrcError(
                f'state file {origin} has a "removed" that is not a list of keys: fix or move it'
            )
        removed = value
        text = json.dumps(document)
    return parse_state(text, origin), removed
