"""A node's settings, read where dbt State's users and ours put them: dbt State's model
config `state: {<key>: <value>}`, or `meta: {orchestra_dbt: {<key>: <value>}}`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from orchestra_dbt_py.errors import OrcError

__all__ = ["node_choice", "node_flag", "node_setting"]


def _settings(config: Any, meta: Mapping[str, Any], key: str) -> Iterator[tuple[str, Any]]:
    """(where, value) for each place that sets `key`, dbt State's first."""
    for where, settings in (
        ("state", config.get("state")),
        ("meta.orchestra_dbt", meta.get("orchestra_dbt")),
    ):
        if isinstance(settings, Mapping) and key in settings:
            yield where, settings[key]


def node_flag(label: str, config: Any, meta: Mapping[str, Any], key: str) -> bool:
    """Whether the node sets `key` to true in either place; a value other than true or
    false is an error naming the node and the place."""
    asked = False
    for where, value in _settings(config, meta, key):
        if not isinstance(value, bool):
            raise OrcError(f"{label} sets {where}.{key} to {value!r}: set it to true or false")
        asked = asked or value
    return asked


def node_setting(label: str, config: Any, meta: Mapping[str, Any], key: str) -> tuple[Any, str]:
    """The value of `key` and where it was set (`state` or `meta.orchestra_dbt`); (None, "")
    when neither sets it. When both do, they must agree (an error names both otherwise)."""
    found = list(_settings(config, meta, key))
    if not found:
        return None, ""
    (where, value), *others = found
    for other_where, other in others:
        if other != value:
            raise OrcError(
                f"{label} sets {where}.{key} to {value!r} and {other_where}.{key} to "
                f"{other!r}: keep one of them"
            )
    return value, where


def node_choice(
    label: str, config: Any, meta: Mapping[str, Any], key: str, choices: tuple[str, ...]
) -> str | None:
    """The node's value of `key`, one of `choices` (None when unset); any other value is an
    error naming the node, the place and the choices."""
    value, where = node_setting(label, config, meta, key)
    if value is None:
        return None
    if value not in choices:
        raise OrcError(f"{label} sets {where}.{key} to {value!r}: set it to {' or '.join(choices)}")
    return str(value)
