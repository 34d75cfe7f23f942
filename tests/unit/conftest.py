"""Every unit test is also a compatibility test (scripts/compat.sh runs them on each
supported Python and dbt-core release)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("unit/"):
            item.add_marker(pytest.mark.compat)
