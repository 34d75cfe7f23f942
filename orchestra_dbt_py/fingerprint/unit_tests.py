"""Unit test fingerprints: a unit test's own definition plus the fingerprints of its models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from orchestra_dbt_py.fingerprint.canonical import plain
from orchestra_dbt_py.fingerprint.parts import part_digest

# Fields of a unit test that do not change what it checks (its schema is the target's).
_EXCLUDED = frozenset({"created_at", "tags", "unrendered_config_call_dict", "schema"})


def unit_test_fingerprint(unit_test: Any, parent_fingerprints: list[str | None]) -> str | None:
    """A unit test's definition (fixtures and expectations) plus its model's fingerprint.

    `unit_test` is a manifest unit test node; `parent_fingerprints` the fingerprints of its
    `depends_on.nodes`, in that order. None when it has no parent or a parent has no
    fingerprint (nothing then vouches for the model it tests).
    """
    if not parent_fingerprints or None in parent_fingerprints:
        return None
    payload = json.dumps([_definition(unit_test), parent_fingerprints], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def unit_test_parts(
    unit_test: Any, parent_parts: list[Mapping[str, str] | None]
) -> dict[str, str] | None:
    """The definition parts of a unit test of one model: the model's parts and `unit test`
    for its own fixtures and expectations. None for a unit test of several models or of a
    model without parts."""
    if len(parent_parts) != 1 or parent_parts[0] is None:
        return None
    return {**parent_parts[0], "unit test": part_digest(plain(_definition(unit_test)))}


def _definition(unit_test: Any) -> dict[str, Any]:
    return {key: value for key, value in unit_test.to_dict().items() if key not in _EXCLUDED}
