"""A node's true/false settings, read where dbt State's users and ours put them: dbt State's
model config `state: {<key>: true}`, or `meta: {orchestra_dbt: {<key>: true}}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestra_dbt_py.errors import OrcError

__all__ = ["node_flag"]


def node_flag(label: str, config: Any, meta: Mapping[str, Any], key: str) -> bool:
    """Whether the node sets `key` to true in either place; a value other than true or
    false is an error naming the node and the place."""
    asked = False
    for where, settings in (
        ("state", config.get("state")),
        ("meta.orchestra_dbt", meta.get("orchestra_dbt")),
    ):
        if not isinstance(settings, Mapping) or key not in settings:
            continue
        value = settings[key]
        if not isinstance(value, bool):
            raise OrcError(f"{label} sets {where}.{key} to {value!r}: set it to true or false")
        asked = asked or value
    return asked
