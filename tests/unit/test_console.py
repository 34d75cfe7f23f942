"""orc's own console lines: --quiet, JSON lines and their invocation id, paths, plurals, and
the unmeasured sources a selection reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestra_dbt_py.core.graph import Node, describe_duration, plural, times
from orchestra_dbt_py.core.planner import Decision, Plan, plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.report import console

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ORDERS = "source.p.raw.orders"
EVENTS = "source.p.raw.events"
STG = "model.p.stg_orders"  # view on ORDERS
FCT = "model.p.fct"  # table on STG
EVT = "model.p.events"  # table on EVENTS
TEST_FCT = "test.p.not_null_fct_id"  # on FCT
UNIT = "unit_test.p.fct.counts"  # on FCT
NODES = {
    n.unique_id: n
    for n in (
        Node(ORDERS, "source"),
        Node(EVENTS, "source"),
        Node(STG, "model", "view", (ORDERS,), '"db"."main"."stg_orders"', "fp", name="stg_orders"),
        Node(FCT, "model", "table", (STG,), '"db"."main"."fct"', "fp", name="fct"),
        Node(EVT, "model", "table", (EVENTS,), '"db"."main"."events"', "fp", name="events"),
        Node(TEST_FCT, "test", "test", (FCT,), None, "fp"),
        Node(UNIT, "unit_test", None, (FCT,), None, "fp"),
    )
}
MEASURED = {"loaded_at": "2026-11-22T11:00:00Z"}


@pytest.fixture(autouse=True)
def default_output() -> Iterator[None]:
    console.configure({})
    yield
    console.configure({})


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_counted_nouns_agree_with_their_count() -> None:
    assert [plural(n, "node") for n in (0, 1, 2)] == ["0 nodes", "1 node", "2 nodes"]
    assert plural(1, "selected node") == "1 selected node"
    assert plural(3, "entry", "entries") == "3 entries"
    assert [times(n) for n in (1, 2)] == ["once", "2 times"]
    assert describe_duration(timedelta(seconds=1)) == "1 second"
    assert describe_duration(timedelta(hours=2)) == "2 hours"


def test_quiet_leaves_out_information_but_not_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.configure({"quiet": True})
    console.say("plan: 1 to run")
    console.warn("could not measure")
    assert [line.split("  ", 1)[1] for line in lines(capsys)] == ["orc: could not measure"]
    console.configure({"quiet": False})
    console.say("plan: 1 to run")
    assert len(lines(capsys)) == 1


@pytest.mark.parametrize(
    ("flags", "written"),
    [
        ({}, ["info", "warn"]),
        ({"debug": True}, ["debug", "info", "warn"]),
        ({"log_level": "debug"}, ["debug", "info", "warn"]),
        ({"log_level": "warn"}, ["info", "warn"]),
        ({"log_level": "error"}, ["info", "warn"]),
        ({"log_level": "none", "debug": True}, []),
        ({"quiet": True, "debug": True}, ["warn"]),
    ],
)
def test_lines_follow_the_console_level_dbt_would_use(
    capsys: pytest.CaptureFixture[str], flags: dict[str, object], written: list[str]
) -> None:
    """The level of dbt's console: --quiet over --debug over --log-level; the reasons are
    debug lines; orc's warnings are kept under --quiet (they need acting on), and its
    information lines under --log-level warn (they stand for the per-node lines)."""
    console.configure({**flags, "log_format": "json"})
    for level in ("debug", "info", "warn"):
        console.say(level, level)
    assert [json.loads(line)["info"]["level"] for line in lines(capsys)] == written


def test_dbts_relayed_warnings_are_silenced_by_quiet_as_dbt_silences_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.configure({"quiet": True})
    console.relay("The selection criterion 'x' does not match any enabled nodes")
    assert lines(capsys) == []
    console.configure({})
    console.relay("The selection criterion 'x' does not match any enabled nodes")
    assert lines(capsys)[0].endswith(
        "orc: The selection criterion 'x' does not match any enabled nodes"
    )


def test_orc_debug_shows_the_reasons_without_dbt_debug(capsys: pytest.CaptureFixture[str]) -> None:
    console.configure({}, debug=True)
    decided = Plan({FCT: Decision(FCT, "build", "no build recorded")})
    console.announce_plan(decided, NODES)
    assert lines(capsys)[-1].endswith(f"orc:   build  {FCT}: no build recorded")


def test_the_debug_format_is_dbts_and_errors_follow_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.configure({"log_format": "debug"})
    console.say("plan: 1 to run")
    [line] = lines(capsys)
    assert line.endswith(" [info ] [MainThread]: orc: plan: 1 to run"), line
    console.configure({"log_format": "json"})
    console.error("no such state")
    out, err = capsys.readouterr()
    assert out == "" and json.loads(err)["info"]["level"] == "error"
    console.configure({})
    console.error("no such state")
    assert capsys.readouterr().err == "orc: error: no such state\n"


def test_json_lines_carry_the_invocation_id_and_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.configure({"log_format": "json"}, invocation_id=lambda: "run-1")
    console.say("plan: 1 to run")
    console.warn("could not measure")
    read = [json.loads(line)["info"] for line in lines(capsys)]
    assert [(i["msg"], i["level"], i["invocation_id"]) for i in read] == [
        ("plan: 1 to run", "info", "run-1"),
        ("could not measure", "warn", "run-1"),
    ]


def test_lines_go_to_stderr_when_stdout_carries_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.configure({"log_format": "json"}, stdout_for_data=True)
    console.say("wrote the plan page")
    out, err = capsys.readouterr()
    assert out == "" and json.loads(err)["info"]["msg"] == "wrote the plan page"


def test_paths_are_shown_relative_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert console.shown_path(Path("target/orc_plan.html")) == "target/orc_plan.html"
    assert console.shown_path(project / "target" / "x.html") == "target/x.html"
    assert console.shown_path(Path("../plan.html")) == str(tmp_path / "plan.html")
    assert console.shown_path(tmp_path / "out" / "x.html") == str(tmp_path / "out" / "x.html")


def test_the_summary_counts_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    one = Plan({FCT: Decision(FCT, "build", "no build recorded")})
    console.summarize(one, {FCT: "success"}, 0.0)
    assert lines(capsys)[0].endswith("orc: Reused 0 of 1 node; ran 1")
    cloned = "model.p.dim"
    two = Plan(
        {
            FCT: Decision(FCT, "build", "no build recorded"),
            cloned: Decision(cloned, "clone", "clone of x: same", clone_from='"db"."prod"."dim"'),
        }
    )
    console.summarize(two, {FCT: "success", cloned: "success"}, 0.0)
    assert lines(capsys)[0].endswith("orc: Reused 0 of 2 nodes; cloned 1; ran 1")


def test_unmeasured_sources_are_known_on_the_first_run() -> None:
    """No state: every node is built for want of a record, and the sources that cannot be
    measured are still named."""
    selected = [STG, FCT, EVT, TEST_FCT, UNIT]
    decided = plan(NODES, selected, {}, {ORDERS: {}, EVENTS: {}}, set(), NOW)
    assert sorted(decided.ids("build")) == sorted(selected)
    assert decided.unmeasured_sources == (EVENTS, ORDERS)


def test_unmeasured_sources_are_those_the_selection_reads() -> None:
    versions = {ORDERS: {}, EVENTS: MEASURED}
    assert plan(NODES, [FCT], {}, versions, set(), NOW).unmeasured_sources == (ORDERS,)
    assert plan(NODES, [EVT], {}, versions, set(), NOW).unmeasured_sources == ()
    # A unit test reads fixtures; a data test reads its parent's inputs.
    assert plan(NODES, [UNIT], {}, versions, set(), NOW).unmeasured_sources == ()
    assert plan(NODES, [TEST_FCT], {}, versions, set(), NOW).unmeasured_sources == ()
    assert plan(NODES, [STG], {}, versions, set(), NOW).unmeasured_sources == (ORDERS,)


def test_unmeasured_sources_are_named_when_nothing_compares_them() -> None:
    """A table rebuilt for its definition never compares its source, which is still named."""
    relation = NODES[EVT].relation
    record = NodeRecord(
        last_updated=NOW - timedelta(hours=1),
        checksum="c",
        fingerprint="old",
        relation=relation,
        version={},
    )
    decided = plan(NODES, [EVT], {EVT: record}, {EVENTS: {}}, {str(relation)}, NOW)
    assert decided.ids("build") == [EVT]
    assert decided.unmeasured_sources == (EVENTS,)


def test_the_unmeasured_warning_survives_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    console.configure({"quiet": True, "log_format": "json", "debug": True})
    console.announce_plan(Plan({}, (ORDERS,)), NODES)
    [line] = [json.loads(text)["info"] for text in lines(capsys)]
    assert line["level"] == "warn"
    assert line["msg"].startswith(
        "1 source has no measurable data version and counts as changed on every run: raw.orders."
    )


def test_every_dbt_invocation_of_one_orc_command_keeps_one_id() -> None:
    import dbt.cli.requires
    from dbt_common.invocation import get_invocation_id

    from orchestra_dbt_py.dbt.invocation import invocation_id, one_invocation_id

    with one_invocation_id() as drawn:
        dbt.cli.requires.reset_invocation_id()  # what each invocation's preflight calls
        assert invocation_id() == get_invocation_id() == drawn
    dbt.cli.requires.reset_invocation_id()
    assert get_invocation_id() != drawn
