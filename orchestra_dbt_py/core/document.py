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
from collections.abc import Collection, Mapping, MutableMapping
from datetime import datetime
from typing import Any

from orchestra_dbt_py.core.items import ItemError, dump_item, json_type, parse_item, strict_json
from orchestra_dbt_py.core.records import (
    NodeRecord,
    format_timestamp,
    is_future_dated,
    merge_states,
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
    "state_problems",
    "unsaved_document",
    "untrusted_records",
]


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
    records, problems = _read_document(text)
    if problems:
        more = len(problems) - 1
        also = f" (and {more} more: `orc state validate` lists them)" if more else ""
        raise OrcError(
            f"state file {origin} {problems[0]}{also}: fix or move it; orc never overwrites it"
        )
    return records


def state_problems(text: str, now: datetime) -> tuple[dict[str, NodeRecord], list[str]]:
    """Every problem of a state document in one pass: what `parse_state` rejects, item by
    item, and the `untrusted_records`. Returns the valid records and the problems."""
    records, problems = _read_document(text)
    return records, problems + untrusted_records(records, now)


def untrusted_records(records: Mapping[str, NodeRecord], now: datetime) -> list[str]:
    """A problem for each record dated after `now` (beyond CLOCK_SKEW), which the planner
    does not trust."""
    return [
        f"has item {key!r} dated {format_timestamp(record.last_updated)}, after the clock of "
        "this machine: it is not trusted (it is rebuilt, and any newer build replaces it)"
        for key, record in sorted(records.items())
        if is_future_dated(record, now)
    ]


def _read_document(text: str) -> tuple[dict[str, NodeRecord], list[str]]:
    """The valid records of a document and what is wrong with it (empty when nothing is);
    a problem with the whole document stops the reading, item problems are all listed."""
    try:
        document = strict_json(text)
    except ItemError as error:
        return {}, [str(error)]
    if not isinstance(document, dict):
        return {}, [f"must hold a JSON object, not {json_type(document)}"]
    if "state" not in document:
        return {}, ['has no top-level "state" object']
    unexpected = sorted(set(document) - {"state"})
    if unexpected:
        return {}, [f'has unexpected top-level key {unexpected[0]!r} (only "state" is allowed)']
    return _read_items(document["state"])


def _read_items(items: Any) -> tuple[dict[str, NodeRecord], list[str]]:
    if not isinstance(items, dict):
        return {}, [f'has a "state" that is {json_type(items)}, not an object']
    records: dict[str, NodeRecord] = {}
    problems: list[str] = []
    for key, item in items.items():
        try:
            records[key] = parse_item(item)
        except ItemError as error:
            problems.append(f"has an invalid item {key!r}: {error}")
    return records, problems


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
                dump_item(record), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
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
    return json.dumps(dump_item(record), sort_keys=True, ensure_ascii=False, allow_nan=False)


def parse_item_json(key: str, text: str, origin: str) -> NodeRecord:
    """Parse and strictly validate one item kept on its own (a row of a state table);
    errors are OrcError naming `origin` and the key."""
    try:
        return parse_item(strict_json(text))
    except ItemError as error:
        raise OrcError(
            f"state {origin} has an invalid item {key!r}: {error}: fix or delete it; "
            "orc never overwrites it"
        ) from None


def dump_journal_line(items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> str:
    """One line of a state journal: records to merge, or keys to drop, in the order written."""
    if removals:
        return json.dumps({"removed": sorted(removals)}, ensure_ascii=False) + "\n"
    document = {"state": {key: dump_item(record) for key, record in items.items()}}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def replay_journal(
    records: Mapping[str, NodeRecord], text: str, origin: str, now: datetime
) -> dict[str, NodeRecord]:
    """Apply a journal's complete lines to `records` in order; a last line cut short by a
    crash is ignored, any other unreadable line is an error naming `origin`.

    A line is an object with `"state"` (records to merge), `"removed"` (keys to drop, after
    the merge) or both."""
    merged = dict(records)
    complete = text.rpartition("\n")[0]
    for number, line in enumerate(complete.splitlines(), start=1):
        problem, items, removed = _journal_entry(line)
        if problem:
            raise OrcError(
                f"state journal {origin} has an unreadable line {number} ({problem}): "
                "fix or move the journal"
            )
        merged = merge_states(merged, items, now=now)
        for key in removed:
            merged.pop(key, None)
    return merged


def _journal_entry(line: str) -> tuple[str | None, dict[str, NodeRecord], list[str]]:
    """What one journal line holds: a problem, or the records and the removed keys."""
    try:
        entry = strict_json(line)
    except ItemError as error:
        return str(error).removeprefix("is "), {}, []
    if not isinstance(entry, dict) or not entry or set(entry) - {"state", "removed"}:
        return 'not an object of "state" and "removed"', {}, []
    removed = entry.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(key, str) for key in removed):
        return '"removed" is not a list of keys', {}, []
    items, problems = _read_items(entry.get("state", {}))
    if problems:
        return problems[0].removeprefix("has "), {}, []
    return None, items, removed


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
        document = strict_json(text)
    except ItemError:
        document = None  # parse_state names the problem
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
