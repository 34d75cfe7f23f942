"""Inputs a model's compiled SQL reads that dbt does not declare: relations named without
`ref`/`source`, table functions, and the clock. The dbt edge finds them (compiling when the
record does not say); here they are plain data, compared like sources (docs/design.md,
"Inputs found in the compiled SQL")."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from orchestra_dbt_py.core.versions import DataVersion, describe_change

__all__ = [
    "CLOCK_VALUE",
    "OPT_OUT",
    "ImplicitInput",
    "InputKind",
    "SqlInputs",
    "every_run_reason",
    "implicit_change",
    "input_kind",
    "unmeasured_inputs",
]

InputKind = Literal["relation", "function", "clock", "volatile"]
# A record's key of an input is the relation's rendered name, or `<kind>:<expression>`.
_PREFIXES: dict[InputKind, str] = {
    "function": "function:",
    "clock": "clock:",
    "volatile": "volatile:",
}
# The field of a clock expression's version: its value at plan time.
CLOCK_VALUE = "value"
# How a model says its SQL reads nothing beyond its refs and sources.
OPT_OUT = "meta: {orchestra_dbt: {reads: []}}"


@dataclass(frozen=True)
class ImplicitInput:
    """One input found in a model's compiled SQL. `key` names it in records and versions;
    `label` in reasons (`raw.src_3`, `current_date`)."""

    key: str
    label: str

    @property
    def kind(self) -> InputKind:
        return input_kind(self.key)

    @classmethod
    def of(cls, kind: InputKind, text: str, label: str | None = None) -> ImplicitInput:
        """The input of this kind: `text` is a relation's rendered name or an expression."""
        key = text if kind == "relation" else _PREFIXES[kind] + text
        return cls(key, label or (text.lower() if kind != "relation" else text))


def input_kind(key: str) -> InputKind:
    for kind, prefix in _PREFIXES.items():
        if key.startswith(prefix):
            return kind
    return "relation"


@dataclass(frozen=True)
class SqlInputs:
    """What a model's compiled SQL reads beyond its declared refs and sources.

    `evaluate_volatile`: the model asks for its sub-day clocks to be evaluated (so it is
    built on every run that reads one). `unreadable`: why its SQL could not be read (it is
    then built on every run).
    """

    inputs: tuple[ImplicitInput, ...] = ()
    evaluate_volatile: bool = False
    unreadable: str | None = None

    def measured(self) -> tuple[ImplicitInput, ...]:
        """The inputs whose versions decide about reuse (not sub-day clocks)."""
        return tuple(i for i in self.inputs if i.kind != "volatile")

    def changes(
        self, recorded: Mapping[str, DataVersion] | None, versions: Mapping[str, DataVersion]
    ) -> list[str]:
        """Why each measured input differs from what the last build read (`recorded`)."""
        found = (implicit_change(i, recorded, versions.get(i.key) or {}) for i in self.measured())
        return [change for change in found if change]


def every_run_reason(sql: SqlInputs) -> str | None:
    """Why the model must be built on every run, whatever the record says."""
    if sql.unreadable is not None:
        return (
            f"its compiled SQL cannot be read ({sql.unreadable}), so what it reads is "
            f"unknown: declare its inputs as sources, or set {OPT_OUT} if it reads nothing "
            "but its refs and sources"
        )
    if sql.evaluate_volatile:
        volatile = [i.label for i in sql.inputs if i.kind == "volatile"]
        if volatile:
            return f"reads {volatile[0]}, evaluated on every run (evaluate_volatile_sql is set)"
    return None


def implicit_change(
    found: ImplicitInput,
    recorded: Mapping[str, DataVersion] | None,
    observed: DataVersion,
) -> str | None:
    """Why this input differs from what the last build read, if it does (it counts as
    changed when it cannot be measured now or was not measured then)."""
    before = None if recorded is None else recorded.get(found.key)
    if found.kind == "clock":
        now = observed.get(CLOCK_VALUE)
        if now is None:
            return f"reads {found.label}, which could not be evaluated, so it counts as changed"
        if before is None or CLOCK_VALUE not in before:
            return f"reads {found.label}, whose value at the last build was not recorded"
        if before[CLOCK_VALUE] != now:
            return f"reads {found.label}: {before[CLOCK_VALUE]} -> {now}"
        return None
    if found.kind == "function":
        return (
            f"reads {found.label}, a table function orc cannot measure, so it counts as "
            f"changed: declare what it reads as a source, or set {OPT_OUT}"
        )
    what = f"reads {found.label} directly, not as a source"
    if not observed:
        return (
            f"{what}: it does not exist or cannot be measured, so it counts as changed "
            "(declare it as a source)"
        )
    if before is None:
        return f"{what}: no data version of it was recorded for the last build"
    change = describe_change(before, observed)
    return None if change is None else f"{what}: {change}"


def unmeasured_inputs(
    sql_inputs: Mapping[str, SqlInputs],
    selected: Collection[str],
    versions: Mapping[str, DataVersion],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The labels of the inputs selected models read that cannot be measured now, and the
    selected models whose SQL cannot be read: both are named on every run."""
    reading = [uid for uid in sorted(selected) if uid in sql_inputs]
    labels = {
        found.label: None
        for uid in reading
        for found in sql_inputs[uid].measured()
        if not versions.get(found.key)
    }
    return tuple(labels), tuple(uid for uid in reading if sql_inputs[uid].unreadable)
