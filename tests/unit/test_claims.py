"""The claims core: taking, releasing and renewing leases on nodes, and the stored board
(parsed strictly: anything that is not a board is a ClaimError, never a partial board)."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestra_dbt_py.core.claims import (
    Claim,
    ClaimError,
    dump_board,
    free_to_take,
    lease_end,
    parse_board,
    release,
    renew,
    take,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def claim(run_id: str, expires: datetime = LATER, pid: int = 100) -> Claim:
    return Claim(run_id, "ci-host", pid, "ana@ci-host", NOW - timedelta(minutes=1), expires)


MINE = claim("mine", pid=1)
THEIRS = claim("theirs", pid=2)


# --- free_to_take ------------------------------------------------------------------------------


def test_free_to_take_own_expired_or_dead_claims_only() -> None:
    assert free_to_take(MINE, "mine", NOW, ()) is True
    assert free_to_take(THEIRS, "mine", NOW, ()) is False
    assert free_to_take(claim("theirs", expires=NOW), "mine", NOW, ()) is True  # at the expiry
    assert free_to_take(claim("theirs", expires=NOW - timedelta(seconds=1)), "mine", NOW, ())
    assert free_to_take(THEIRS, "mine", NOW, {"theirs"}) is True


# --- take --------------------------------------------------------------------------------------


def test_take_on_an_empty_board_holds_every_wanted_key_once() -> None:
    taken = take({}, ["a", "b", "a"], MINE, NOW)
    assert taken.held == ["a", "b"]
    assert taken.blocked == {}
    assert taken.board == {"a": MINE, "b": MINE}


def test_a_key_held_by_a_live_run_is_blocked_and_kept() -> None:
    taken = take({"a": THEIRS}, ["a", "b"], MINE, NOW)
    assert taken.held == ["b"]
    assert taken.blocked == {"a": THEIRS}
    assert taken.board == {"a": THEIRS, "b": MINE}


def test_keys_downstream_of_a_blocked_key_wait_for_it() -> None:
    downstream = {"a": ["b", "c"], "x": ["y"]}
    taken = take({"a": THEIRS}, ["a", "b", "c", "d", "y"], MINE, NOW, downstream=downstream)
    assert taken.held == ["d", "y"]  # y is downstream of x, which nobody holds
    assert taken.blocked == {"a": THEIRS}
    assert taken.board == {"a": THEIRS, "d": MINE, "y": MINE}


def test_keys_below_an_upstream_another_run_holds_wait_though_it_is_not_wanted() -> None:
    # `u` is outside this run's selection; another run is rebuilding it right now.
    downstream = {"u": ["b"], "b": []}
    taken = take({"u": THEIRS}, ["b", "d"], MINE, NOW, downstream=downstream)
    assert taken.held == ["d"]
    assert taken.blocked == {"u": THEIRS}
    # A claim that holds back nothing this run wants is not reported.
    assert take({"u": THEIRS}, ["d"], MINE, NOW, downstream=downstream).blocked == {}


def test_expired_and_dead_claims_are_taken_over_and_dropped() -> None:
    expired = claim("gone", expires=NOW - timedelta(seconds=1))
    dead = claim("dead")
    board = {"a": expired, "b": dead, "c": THEIRS, "old": expired, "dead-too": dead}
    taken = take(board, ["a", "b"], MINE, NOW, dead_runs={"dead"})
    assert taken.held == ["a", "b"]
    assert taken.blocked == {}
    # Expired or dead claims nobody wants are cleaned up too; a live one stays.
    assert taken.board == {"a": MINE, "b": MINE, "c": THEIRS}


def test_taking_again_keeps_own_claims_and_refreshes_them() -> None:
    first = take({}, ["a"], MINE, NOW).board
    renewed = claim("mine", expires=LATER + timedelta(minutes=5), pid=1)
    taken = take(first, ["a", "b"], renewed, NOW)
    assert taken.held == ["a", "b"]
    assert taken.board == {"a": renewed, "b": renewed}


def test_own_expired_claims_not_wanted_stay_until_released() -> None:
    own_old = claim("mine", expires=NOW - timedelta(seconds=1), pid=1)
    taken = take({"a": own_old}, ["b"], MINE, NOW)
    assert taken.board == {"a": own_old, "b": MINE}


def test_take_leaves_the_board_it_was_given_alone() -> None:
    board = {"a": THEIRS}
    take(board, ["b"], MINE, NOW)
    assert board == {"a": THEIRS}


# --- release, renew, lease_end -------------------------------------------------------------


def test_release_drops_only_this_runs_claims_on_the_keys() -> None:
    board = {"a": MINE, "b": MINE, "c": THEIRS}
    assert release(board, ["a", "c", "missing"], "mine") == {"b": MINE, "c": THEIRS}
    assert release(board, [], "mine") == board


def test_renew_pushes_only_this_runs_expiry() -> None:
    later = LATER + timedelta(hours=1)
    renewed = renew({"a": MINE, "c": THEIRS}, "mine", later)
    assert renewed["a"].expires == later and renewed["a"].started == MINE.started
    assert renewed["c"] == THEIRS


def test_lease_end_and_label() -> None:
    assert lease_end(NOW, 90) == NOW + timedelta(seconds=90)
    assert MINE.label == "run mine (ana@ci-host on ci-host, pid 1)"


# --- the stored board --------------------------------------------------------------------------


def test_a_board_reads_back_the_same() -> None:
    board = {"model.p.a": MINE, "model.p.b": claim("theirs", LATER + timedelta(microseconds=5))}
    text = dump_board(board)
    assert json.loads(text)["claims"]["model.p.a"]["expires"] == "2026-11-29T12:05:00Z"
    assert parse_board(text) == board
    assert parse_board(dump_board({})) == {}


@pytest.mark.parametrize("text", ["", "  \n"])
def test_empty_text_is_an_empty_board(text: str) -> None:
    assert parse_board(text) == {}


GOOD = json.loads(dump_board({"k": MINE}))["claims"]["k"]


def with_field(name: str, value: Any) -> str:
    return json.dumps({"claims": {"k": {**GOOD, name: value}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"claims": {', "not JSON"),
        ("[]", "not a claims document"),
        ('{"claims": {}, "state": {}}', "not a claims document"),
        ('{"state": {}}', "not a claims document"),
        ('{"claims": []}', '"claims" is not an object'),
        ('{"claims": {"k": 1}}', 'claim "k": expected the fields'),
        (json.dumps({"claims": {"k": {**GOOD, "extra": 1}}}), 'claim "k": expected the fields'),
        (with_field("pid", True), 'claim "k": pid is not a int'),
        (with_field("pid", 1.5), 'claim "k": pid is not a int'),
        (with_field("pid", -1), "negative pid"),
        (with_field("run_id", ""), "empty run_id"),
        (with_field("host", None), 'claim "k": host is not a str'),
        (with_field("expires", "tomorrow"), "claim \"k\": 'tomorrow' is not an ISO-8601"),
        (with_field("started", "2026-02-30T00:00:00Z"), 'claim "k":'),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_a_bad_board_is_a_one_line_claim_error(text: str, expected: str) -> None:
    with pytest.raises(ClaimError) as caught:
        parse_board(text)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


KEY_TEXT = st.text(string.ascii_letters + string.digits + "._-", max_size=8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["2026-11-29T12:00:00Z", "0001-01-01T00:00:00+01:00", "2026-02-30T00:00Z"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["claims", *GOOD, "x"]), inner, max_size=7)
    ),
    max_leaves=14,
)
boards = st.one_of(
    values,
    st.fixed_dictionaries({"claims": st.dictionaries(KEY_TEXT, values, max_size=3)}),
    st.fixed_dictionaries({"claims": st.dictionaries(KEY_TEXT, st.just(GOOD), max_size=2)}),
)
junk = st.one_of(
    boards.map(json.dumps),
    boards.map(lambda value: json.dumps(value)[: len(json.dumps(value)) // 2]),
    st.text(max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(junk)
def test_any_text_is_a_board_or_a_claim_error(text: str) -> None:
    try:
        board = parse_board(text)
    except ClaimError:
        return
    assert parse_board(dump_board(board)) == board
