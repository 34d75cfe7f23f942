"""Unit test fingerprints: a unit test's own definition plus the fingerprints of its models."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Fields of a unit test that do not change what it checks.
_EXCLUDED = frozenset({"created_at", "tags", "unrendered_config_call_dict"})


def unit_test_fingerprint(unit_test: Any, parent_fingerprints: list[str | None]) -> str | None:
    """A unit test's definition (fixtures and expectations) plus its model's fingerprint.

    `unit_test` is a manifest unit test node; `parent_fingerprints` the fingerprints of its
    `depends_on.nodes`, in that order. None when it has no parent or a parent has no
    fingerprint (nothing then vouches for the model it tests).
    """
    if not parent_fingerprints or None in parent_fingerprints:
        return None
    definition = {key: value for key, value in unit_test.to_dict().items() if key not in _EXCLUDED}
    payload = json.dumps([definition, parent_fingerprints], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
