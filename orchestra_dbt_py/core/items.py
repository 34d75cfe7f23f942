"""One record's JSON shape in a state document (an item), both ways, strictly validated.
Pure: no I/O here. `document` builds the document, the journal and the unsaved files on it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orchestra_dbt_py.core.records import (
    RECORD_FIELDS,
    NodeRecord,
    format_timestamp,
    parse_timestamp,
)

__all__ = ["ItemError", "dump_item", "json_type", "parse_item", "strict_json"]

# The dbt package's hooks write their fingerprints with this prefix (`hook1:<md5>`), in the
# same `fingerprint` field as orc's sha256: this is the one place that tells them apart.
_HOOK_FINGERPRINT_PREFIX = "hook"


def strict_json(text: str) -> Any:
    """`json.loads`, refusing repeated keys, NaN and Infinity, numbers too large for a float
    and nesting too deep to read; every refusal is an ItemError."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as error:
        raise ItemError(f"is not valid JSON (line {error.lineno}: {error.msg})") from None
    except ItemError:
        raise
    except ValueError:  # an integer of more digits than Python converts
        raise ItemError("holds a number too long to read") from None
    except RecursionError:
        raise ItemError("is nested too deeply to read") from None


class ItemError(ValueError):
    """A validation problem inside a document; the caller adds where the document is from."""


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
            raise ItemError(f"repeats the key {key!r} in one object")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ItemError(f"holds {name}, which is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ItemError(f"holds the number {text}, which is too large")
    return value


def json_type(value: Any) -> str:
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
        raise ItemError(f"{what} must be a timestamp string, not {json_type(value)}")
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise ItemError(f"{what} is not a usable timestamp: {error}") from None


def _optional_str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ItemError(f'"{name}" must be a string or null, not {json_type(value)}')


def _object(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f'"{name}" must be an object, not {json_type(value)}')
    return value


def _version(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ItemError(f"{what} must be an object of strings")
    return value


def _strings(value: Any, name: str) -> dict[str, str] | None:
    """An optional object of strings (`definition`, `parent_relations`)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ItemError(f'"{name}" must be an object, not {json_type(value)}')
    for key, text in value.items():
        if not isinstance(text, str):
            raise ItemError(f'"{name}" of {key!r} must be a string, not {json_type(text)}')
    return value


def parse_item(item: Any) -> NodeRecord:
    """One item as a record; ItemError when it is not valid."""
    try:
        return _parse_item(item)
    except RecursionError:  # a value nested close to the interpreter's limit
        raise ItemError("is nested too deeply to read") from None
    except OverflowError:  # an integer beyond what a float holds
        raise ItemError("holds a number too large to read") from None


def _parse_item(item: Any) -> NodeRecord:
    if not isinstance(item, dict):
        raise ItemError(f"it must be an object, not {json_type(item)}")
    if "last_updated" not in item:
        raise ItemError('"last_updated" is missing')
    last_updated = _timestamp(item["last_updated"], '"last_updated"')

    sources: dict[str, datetime | None] = {}
    for source, observed in _object(item, "sources").items():
        sources[source] = (
            None if observed is None else _timestamp(observed, f'"sources" of {source!r}')
        )
    unmeasured = item.get("unmeasured_sources")
    if unmeasured is not None:
        if not isinstance(unmeasured, list) or not all(isinstance(s, str) for s in unmeasured):
            raise ItemError('"unmeasured_sources" must be an array of strings')
        for source in unmeasured:
            if sources.get(source) is not None:
                raise ItemError(f'{source!r} is both in "sources" and in "unmeasured_sources"')
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
        raise ItemError('"execution_time" must be a non-negative number or null')

    data_versions = {
        source: _version(version, f'"data_versions" of {source!r}')
        for source, version in _object(item, "data_versions").items()
    }
    version = None if item.get("version") is None else _version(item["version"], '"version"')
    definition = _strings(item.get("definition"), "definition")
    reads = None
    if item.get("reads") is not None:
        reads = {
            key: _version(version, f'"reads" of {key!r}')
            for key, version in _object(item, "reads").items()
        }

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
        definition=definition,
        reads=reads,
        parent_relations=_strings(item.get("parent_relations"), "parent_relations"),
        target=_optional_str(item, "target"),
        extra={key: value for key, value in item.items() if key not in RECORD_FIELDS},
    )


def dump_item(record: NodeRecord) -> dict[str, Any]:
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
    for name in ("relation", "target", "status", "execution_time"):
        value = getattr(record, name)
        if value is not None:
            item[name] = value
    if record.data_versions:
        item["data_versions"] = {
            source: dict(version) for source, version in record.data_versions.items()
        }
    if record.version is not None:
        item["version"] = dict(record.version)
    if record.definition is not None:
        item["definition"] = dict(record.definition)
    if record.reads is not None:
        item["reads"] = {key: dict(version) for key, version in record.reads.items()}
    if record.parent_relations is not None:
        item["parent_relations"] = dict(record.parent_relations)
    return item
