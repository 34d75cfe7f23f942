"""A build that did not succeed is recorded as such: nothing reuses the record, it wins the
merge over the last good build, and the next run says why it builds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from orchestra_dbt_py.cli_state import show
from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.core.records import NodeRecord, merge_states, prevails
from tests.support.planner_graph import (
    FCT,
    INT,
    NOW,
    ORDERS,
    PAYMENTS,
    SEEN,
    TEST_FCT,
    TEST_REL,
    good_state,
    graph,
    relation,
    versions_of,
)

FAILED_AT = NOW - timedelta(minutes=30)


def outcome(uid: str, status: str) -> NodeRecord:
    """The record a run that finished `uid` with `status` at FAILED_AT leaves."""
    nodes = graph()
    record = finished_record(
        nodes, uid, status, 0.5, known=good_state(nodes), versions={}, checksum="x", now=FAILED_AT
    )
    assert record is not None
    return record


def decide(
    state_changes: dict[str, NodeRecord], selected: set[str] | None = None
) -> dict[str, str]:
    """Each selected node's decision and reason, on the planner tests' graph."""
    nodes = graph()
    state = {**good_state(nodes), **state_changes}
    existing = {relation(uid) for uid, n in nodes.items() if n.relation}
    chosen = selected or {uid for uid, n in nodes.items() if n.resource_type != "source"}
    versions = versions_of({ORDERS: SEEN, PAYMENTS: SEEN})
    result = plan(nodes, chosen, state, versions, existing, NOW)
    return {uid: f"{d.action}: {d.reason}" for uid, d in result.decisions.items()}


def test_a_failed_build_leaves_a_record_nothing_can_reuse() -> None:
    record = outcome(FCT, "error")
    assert record == NodeRecord(
        last_updated=FAILED_AT, relation=relation(FCT), status="error", execution_time=0.5
    )
    # The document holds no checksum either (dbt-orchestra compares it), and reads back equal.
    item = parse_state(dump_state({FCT: record}), "test")[FCT]
    assert item == record


@pytest.mark.parametrize(
    ("uid", "status", "reason"),
    [
        (FCT, "error", "its last build failed (status error at 2026-11-22 11:30:00)"),
        (
            FCT,
            "skipped",
            "its last build was skipped at 2026-11-22 11:30:00 "
            "(after a failure upstream, or a stopped run)",
        ),
        (FCT, "partial success", "its last build ended with status partial success at"),
        (TEST_FCT, "error", "its last run errored before giving a result (at 2026-11-22 11:30:00)"),
        (TEST_FCT, "skipped", "its last run was skipped at 2026-11-22 11:30:00"),
    ],
)
def test_the_next_run_says_how_the_last_build_ended(uid: str, status: str, reason: str) -> None:
    decisions = decide({uid: outcome(uid, status)})
    assert decisions[uid].startswith(f"build: {reason}"), decisions[uid]


def test_a_test_that_ran_and_failed_says_so() -> None:
    """A failing test is a result (its record is complete), but it is run again."""
    record = outcome(TEST_FCT, "fail")
    assert record.fingerprint is not None
    decisions = decide({TEST_FCT: record})
    assert decisions[TEST_FCT] == "build: its last run failed (status fail at 2026-11-22 11:30:00)"


def test_a_reader_of_a_failed_build_says_so_when_it_is_not_built_with_it() -> None:
    decisions = decide({INT: outcome(INT, "error")}, selected={FCT, TEST_FCT, TEST_REL})
    assert decisions[FCT] == (
        "build: upstream int_orders: its last build failed (status error at 2026-11-22 11:30:00)"
    )


def test_a_later_failure_replaces_the_last_good_build_and_loses_to_a_later_one() -> None:
    good = good_state(graph())[FCT]  # built at NOW - 2 hours
    failed = outcome(FCT, "error")
    assert prevails(failed, good, NOW) and not prevails(good, failed, NOW)
    assert merge_states({FCT: good}, {FCT: failed}, now=NOW)[FCT] == failed
    assert merge_states({FCT: failed}, {FCT: good}, now=NOW)[FCT] == failed
    rebuilt = replace(good, last_updated=NOW - timedelta(minutes=5))
    assert merge_states({FCT: failed}, {FCT: rebuilt}, now=NOW)[FCT] == rebuilt
    assert merge_states({FCT: rebuilt}, {FCT: failed}, now=NOW)[FCT] == rebuilt


def test_state_show_names_a_failed_or_skipped_build(capsys: pytest.CaptureFixture[str]) -> None:
    show(
        {
            FCT: outcome(FCT, "error"),
            INT: outcome(INT, "skipped"),
            TEST_REL: good_state(graph())[TEST_REL],
        },
        "the state",
        as_json=False,
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines[1:]] == [
        [FCT, "failed", "2026-11-22T11:30:00Z"],
        [INT, "skipped", "2026-11-22T11:30:00Z"],
        [TEST_REL, "built", "2026-11-22T10:11:00Z"],
    ]
    assert "status error" in lines[1]
