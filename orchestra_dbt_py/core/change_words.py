"""What changed in a node's definition: the recorded and the current definition parts
compared, named for a reason. The parts and their names come from
`orchestra_dbt_py.fingerprint.parts`: a single name (`sql`, `adapter_type`) or
`<group>:<name>` (`config:materialized`, `macro:cents_to_dollars`, `parent:stg_orders`)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["changed_parts", "definition_changed"]

# How many names a reason lists before "(and N more)".
MOST_NAMES = 4

# Where each part goes in a reason, in order: single parts by their words (others read as
# "its <name>"), then groups by the words before their names, then parts every node shares.
_SINGLES = {
    "sql": "its SQL",
    "python code": "its Python code",
    "seed file": "its seed file",
    "adapter_type": "its adapter type",
    "description": "its description",
    "column_descriptions": "its column descriptions",
    "contract_columns": "its contract's columns",
    "contract_constraints": "its contract's constraints",
    "test": "what it tests (test, arguments or column)",
    "unit test": "the unit test's fixtures or expectations",
    "config": "a config key at its default or without a value",
}
_GROUPS = {
    "config": "config",
    "macro": "macro",
    "var": "var",
    "env var": "env var",
    "target": "target",
    "parent": "parent",
    "ephemeral": "ephemeral parent",
    "source": "source",
}
_SHARED = {
    "dbt macros": "dbt's or the adapter's macros",
    "settings": "project settings",
    "fingerprint_version": "orc's fingerprint version",
}
_SINGLE_RANK = {name: rank for rank, name in enumerate(_SINGLES)}
_GROUP_RANK = {name: len(_SINGLES) + 1 + rank for rank, name in enumerate([*_GROUPS, *_SHARED])}


def definition_changed(
    recorded: Mapping[str, str] | None, current: Mapping[str, str] | None
) -> str:
    """The reason for a changed fingerprint: the parts that changed when the record and the
    node both have parts and they tell, the kinds of change a fingerprint covers otherwise."""
    changed = None
    if recorded is not None and current is not None:
        changed = changed_parts(recorded, current)
    if changed is None:
        return "definition changed (code, config, macros, vars or env vars it reads)"
    return f"definition changed: {changed}"


def changed_parts(recorded: Mapping[str, str], current: Mapping[str, str]) -> str | None:
    """The parts that differ, added or removed, grouped: `its SQL; config materialized,
    unique_key; macro cents_to_dollars (and 2 more)`; None when none differs."""
    differing = sorted(
        name for name in recorded.keys() | current.keys() if recorded.get(name) != current.get(name)
    )
    if "config" in differing and any(
        name.startswith("config:") and _mark(name, recorded, current) for name in differing
    ):
        # A key that got or lost its value also left or joined the part of default keys.
        differing.remove("config")
    if not differing:
        return None
    placed = sorted((_place(name, recorded, current) for name in differing), key=lambda p: p[0])
    lines: list[tuple[str, list[str]]] = []
    for _, heading, words in placed[:MOST_NAMES]:
        if heading and lines and lines[-1][0] == heading:
            lines[-1][1].append(words)
        else:
            lines.append((heading, [words]))
    text = "; ".join(f"{heading} {', '.join(words)}".strip() for heading, words in lines)
    hidden = len(placed) - MOST_NAMES
    return text + (f" (and {hidden} more)" if hidden > 0 else "")


def _place(
    name: str, recorded: Mapping[str, str], current: Mapping[str, str]
) -> tuple[int, str, str]:
    """Where a differing part goes: its rank, the heading of its group ("" for none), its words."""
    group, _, member = name.partition(":")
    if member and group in _GROUPS:
        words = member
        if group != "config":  # a config key that appears has just been given a value
            words += _mark(name, recorded, current)
        return _GROUP_RANK[group], _GROUPS[group], words
    if name in _SHARED:
        return _GROUP_RANK[name], "", _SHARED[name]
    words = _SINGLES.get(name, f"its {name.replace('_', ' ')}")
    return _SINGLE_RANK.get(name, len(_SINGLES)), "", words


def _mark(name: str, recorded: Mapping[str, str], current: Mapping[str, str]) -> str:
    if name not in recorded:
        return " (new)"
    if name not in current:
        return " (gone)"
    return ""
