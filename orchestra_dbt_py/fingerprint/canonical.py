"""Canonical JSON and hashing: serializations that do not depend on ordering or the process."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def plain(value: Any) -> Any:
    """A JSON-ready copy of `value` whose serialization does not depend on ordering or hash
    randomization: mapping keys become strings (typed when they were not strings), sets become
    sorted lists, dbt objects their `to_dict()`, anything else its `str()`."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {
            (key if isinstance(key, str) else f"<{type(key).__name__}>{key}"): plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=canonical_json)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict())
    return str(value)


def canonical_json(value: Any) -> str:
    """Canonical JSON of `value`. Its mappings must have string keys: pass foreign data
    (configs, arguments, var values) through `plain` first."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=plain
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def env_digest(name: str, value: str | None) -> str | None:
    """What the payload holds for an env var: a digest of its value, never the value."""
    if value is None:
        return None
    return sha256_hex(f"orc-env\0{name}\0{value}")


def file_digest(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except FileNotFoundError:
        return None
