"""Properties of the state's parsers and merge, over generated inputs (hypothesis).

Parsers: whatever the text, the only exception is OrcError. Merge: commutative, associative
and idempotent, and a record never beats a newer trusted one."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestra_dbt_py.core.document import (
    dump_journal_line,
    dump_state,
    parse_item_json,
    parse_state,
    parse_unsaved,
    replay_journal,
    state_problems,
    unsaved_document,
)
from orchestra_dbt_py.core.records import CLOCK_SKEW, NodeRecord, merge_states, prevails
from orchestra_dbt_py.errors import OrcError

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEYS = st.sampled_from(["a", "b", "c", "model.p.m"])
TEXT = st.text(string.ascii_letters + string.digits + "._-", max_size=8)

moments = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 11, 29, 11, 0),
        max_value=datetime(2026, 11, 29, 13, 0),
        timezones=st.just(UTC),
    ),
    st.datetimes(timezones=st.just(UTC)),  # anything from year 1 to 9999
)
versions = st.dictionaries(TEXT, TEXT, max_size=2)
records = st.builds(
    NodeRecord,
    last_updated=moments,
    checksum=st.none() | TEXT,
    # orc's fingerprints are sha256 digests (a text starting with "hook" is the hooks').
    fingerprint=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
    status=st.sampled_from([None, "success", "error", "pass"]),
    data_versions=st.dictionaries(TEXT, versions, max_size=2),
    version=st.none() | versions,
    definition=st.none() | versions,
    reads=st.none() | st.dictionaries(TEXT, versions, max_size=2),
    parent_relations=st.none() | versions,
)
states = st.dictionaries(KEYS, records, max_size=4)

# JSON values shaped like state documents, with wrong types and odd values mixed in.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-11-29T12:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-02-30T00:00:00Z",
            "hook1:abc",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["state", "removed", "last_updated", "sources", "upstream", "version", "x"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
documents = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["state", "removed"]),
        st.dictionaries(
            KEYS,
            st.dictionaries(
                st.sampled_from(
                    [
                        "last_updated",
                        "checksum",
                        "sources",
                        "unmeasured_sources",
                        "upstream",
                        "execution_time",
                        "data_versions",
                        "version",
                        "fingerprint",
                        "definition",
                    ]
                ),
                json_values,
            ),
        )
        | json_values,
    ),
)
texts = st.one_of(
    documents.map(json.dumps),
    st.text(max_size=40),
    documents.map(lambda value: json.dumps(value)[: len(json.dumps(value)) // 2]),
)


def only_orc_errors(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except OrcError as error:
        assert "\n" not in str(error)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_state_parsers_raise_only_one_line_orc_errors(text: str) -> None:
    only_orc_errors(parse_state, text, "origin")
    only_orc_errors(parse_unsaved, text, "origin")
    only_orc_errors(parse_item_json, "key", text, "origin")
    only_orc_errors(replay_journal, {}, text + "\n", "origin", NOW)
    state_problems(text, NOW)  # lists problems, never raises


@settings(max_examples=200, deadline=None)
@given(states, st.lists(KEYS, max_size=2, unique=True))
def test_what_is_written_reads_back_the_same(state: dict[str, NodeRecord], gone: list[str]) -> None:
    assert parse_state(dump_state(state), "origin") == state
    assert parse_unsaved(unsaved_document(state, gone), "origin") == (state, sorted(set(gone)))
    journal = dump_journal_line(state) + dump_journal_line({}, gone)
    expected = {key: record for key, record in state.items() if key not in gone}
    assert replay_journal({}, journal, "origin", NOW) == expected


@settings(max_examples=150, deadline=None)
@given(states, states)
def test_merge_is_commutative(a: dict[str, NodeRecord], b: dict[str, NodeRecord]) -> None:
    assert merge_states(a, b, now=NOW) == merge_states(b, a, now=NOW)


@settings(max_examples=150, deadline=None)
@given(states, states, states)
def test_merge_is_associative(
    a: dict[str, NodeRecord], b: dict[str, NodeRecord], c: dict[str, NodeRecord]
) -> None:
    left = merge_states(merge_states(a, b, now=NOW), c, now=NOW)
    right = merge_states(a, merge_states(b, c, now=NOW), now=NOW)
    assert left == right


@settings(max_examples=200, deadline=None)
@given(states, states)
def test_merge_is_idempotent(a: dict[str, NodeRecord], b: dict[str, NodeRecord]) -> None:
    merged = merge_states(a, b, now=NOW)
    assert merge_states(a, a, now=NOW) == a
    assert merge_states(merged, b, now=NOW) == merged


@settings(max_examples=150, deadline=None)
@given(records, records)
# The ends of the calendar: the skew must not be taken from a record of year 1.
@example(NodeRecord(last_updated=NOW), NodeRecord(last_updated=datetime.min.replace(tzinfo=UTC)))
@example(NodeRecord(last_updated=NOW), NodeRecord(last_updated=datetime.max.replace(tzinfo=UTC)))
def test_a_record_never_beats_a_newer_trusted_one(first: NodeRecord, second: NodeRecord) -> None:
    older, newer = sorted((first, second), key=lambda record: record.last_updated)
    if older.last_updated == newer.last_updated:
        return
    newer_is_trusted = newer.last_updated <= NOW + CLOCK_SKEW
    if newer_is_trusted:
        assert not prevails(older, newer, NOW)
        assert merge_states({"k": newer}, {"k": older}, now=NOW)["k"] is newer
        assert merge_states({"k": older}, {"k": newer}, now=NOW)["k"] is newer
    elif older.last_updated <= NOW + CLOCK_SKEW:
        assert merge_states({"k": newer}, {"k": older}, now=NOW)["k"] is older


def test_the_generated_times_reach_both_sides_of_the_clock() -> None:
    """The strategies cover trusted and future-dated records (else the last test is empty)."""
    late = NodeRecord(last_updated=NOW + CLOCK_SKEW + timedelta(seconds=1))
    on_time = NodeRecord(last_updated=NOW)
    assert prevails(on_time, late, NOW) and not prevails(late, on_time, NOW)
