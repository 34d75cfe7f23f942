"""Data versions: every change signal the warehouse offers for one relation, as text fields
(`loaded_at`, `rows`, `digest`, a Delta `version`...). Two versions are compared field by
field; a field that moved, went backwards, appeared or disappeared means the data changed.
An empty version means the relation could not be measured, which counts as changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from orchestra_dbt_py.core.records import format_timestamp, parse_timestamp

__all__ = ["LOADED_AT", "DataVersion", "describe_change", "loaded_at", "source_version"]

DataVersion = Mapping[str, str]
# The field that holds a source's `loaded_at_field` / `loaded_at_query` maximum.
LOADED_AT = "loaded_at"
# Digests, and values longer than this, are not shown, only said to have moved.
_SHOWN = 32


def source_version(loaded_at: datetime | None, measured: DataVersion) -> dict[str, str]:
    """A source's version: its `loaded_at` maximum (when configured and measured) together
    with what the warehouse reports."""
    version = dict(measured)
    if loaded_at is not None:
        version[LOADED_AT] = format_timestamp(loaded_at)
    return version


def describe_change(recorded: DataVersion, observed: DataVersion) -> str | None:
    """How `observed` differs from `recorded`, field by field, or None when they are equal.
    When only which fields there are differs, it is said as a new way of measuring (the
    orchestra_dbt package added, updated or overridden): the fields both hold are equal,
    but what the others would have shown is unknown, so it still counts as a change, once."""
    shared = recorded.keys() & observed.keys()
    if recorded.keys() != observed.keys() and all(
        recorded[name] == observed[name]
        or (name == LOADED_AT and _same_time(recorded[name], observed[name]))
        for name in shared
    ):
        fields = [
            *(f"{name} appeared" for name in sorted(observed.keys() - recorded.keys())),
            *(f"{name} disappeared" for name in sorted(recorded.keys() - observed.keys())),
        ]
        return (
            f"measured another way since ({', '.join(fields)}): the orchestra_dbt package was "
            "added, updated or overridden, or a loaded_at setting changed; built once to "
            "record the new measurement"
        )
    moved = []
    for name in sorted(recorded.keys() | observed.keys()):
        before, now = recorded.get(name), observed.get(name)
        if before == now or (name == LOADED_AT and _same_time(before, now)):
            continue
        if before is None:
            moved.append(f"{name} appeared")
        elif now is None:
            moved.append(f"{name} disappeared")
        elif name.endswith("digest") or max(len(before), len(now)) > _SHOWN:
            moved.append(f"{name} moved")
        else:
            moved.append(f"{name} {before} -> {now}")
    return ", ".join(moved) or None


def loaded_at(version: DataVersion) -> datetime | None:
    """The `loaded_at` field of a version as a time (None when absent or unreadable)."""
    text = version.get(LOADED_AT)
    try:
        return None if text is None else parse_timestamp(text)
    except ValueError:
        return None


def _same_time(before: str | None, now: str | None) -> bool:
    """Whether two `loaded_at` texts name the same moment (writers format them differently)."""
    first, second = loaded_at({LOADED_AT: before or ""}), loaded_at({LOADED_AT: now or ""})
    return first is not None and first == second
