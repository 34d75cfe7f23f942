"""`orc plan` and `orc state show` fit the terminal: long names and reasons end in an
ellipsis; `--wide`, and output that goes to a file or a pipe, keep every character."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from orchestra_dbt_py.cli_state import show
from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.planner import Decision, Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.report import console
from orchestra_dbt_py.report.fit import console_width, ellipsize, fit_table

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LONG = "test.jaffle.accepted_values_stg_orders_status__placed__shipped__completed__returned"
REASON = "its definition changed since its last build: " + "the SQL, " * 20 + "and its config"


def test_ellipsize_cuts_only_what_is_too_long() -> None:
    assert ellipsize("orders", 6) == "orders"
    assert ellipsize("orders", 5) == "orde…"
    assert len(ellipsize(LONG, 30)) == 30


def test_a_table_is_cut_in_the_order_given_and_aligned() -> None:
    rows = [("name", "kind", "why"), (LONG, "test", REASON)]
    whole = fit_table(rows, None)
    assert whole[1] == f"{LONG}  test  {REASON}"
    shrink = ((2, 40), (0, 30), (2, 12))
    fitted = fit_table(rows, 140, shrink)
    assert [len(line) for line in fitted] == [len(fitted[0]), 140]
    assert fitted[1].startswith(LONG + "  test  its definition") and fitted[1].endswith("…")
    narrow = fit_table(rows, 60, shrink)
    assert max(len(line) for line in narrow) <= 60
    name, kind, why = narrow[1].split("  ")
    assert (len(name), kind, len(why)) == (30, "test", 60 - 30 - 4 - 4)
    assert name.endswith("…") and why.endswith("…")
    assert narrow[0].index("kind") == narrow[1].index("  test") + 2


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_width_is_the_terminals_unless_wide_or_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "77")
    monkeypatch.setattr("sys.stdout", Terminal())
    assert console_width(wide=False) == 77
    assert console_width(wide=True) is None
    monkeypatch.setattr("sys.stdout", io.StringIO())  # not a terminal: a file or a pipe
    assert console_width(wide=False) is None


def test_the_plan_table_fits_the_width(capsys: pytest.CaptureFixture[str]) -> None:
    nodes = {
        LONG: Node(LONG, "test", "test", ("model.jaffle.stg_orders",), None, "fp"),
        "model.jaffle.stg_orders": Node("model.jaffle.stg_orders", "model", "view"),
    }
    plan = Plan({LONG: Decision(LONG, "build", REASON)})
    console.print_plan_table(plan, nodes, {}, {}, threads=4, width=80)
    *table, total = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in table) <= 80, table
    assert "…" in table[1] and total.startswith("1 to build, 0 to reuse of 1 selected;")
    console.print_plan_table(plan, nodes, {}, {}, threads=4, width=None)
    assert REASON in capsys.readouterr().out


def test_state_show_fits_the_width(capsys: pytest.CaptureFixture[str]) -> None:
    sources = {f"source.jaffle.raw.table_number_{i}": NOW for i in range(12)}
    records = {LONG: NodeRecord(NOW, sources=sources, status="pass", target="dev")}
    show(records, "the state", as_json=False, width=90)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 90, lines
    assert lines[1].split()[1:3] == ["built", "2026-11-22T12:00:00Z"]
    show(records, "the state", as_json=False, width=None)
    assert "raw.table_number_11" in capsys.readouterr().out
