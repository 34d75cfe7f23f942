"""The state document: parse/dump round trip, compatibility with dbt-orchestra, strict
validation, and the merge rule every backend shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.core.records import (
    NodeRecord,
    format_timestamp,
    merge_states,
    parse_timestamp,
)
from orchestra_dbt_py.errors import OrcError

ORIGIN = "/projects/shop/orc_state.json"
T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


def full_record() -> NodeRecord:
    return NodeRecord(
        last_updated=datetime(2026, 11, 22, 7, 31, 17, 250000, tzinfo=UTC),
        checksum="a" * 64,
        sources={
            "source.shop.raw.orders": datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
            "source.shop.raw.events": None,
        },
        fingerprint="fp-1",
        relation='"analytics"."main"."orders"',
        upstream={"model.shop.stg_orders": datetime(2026, 11, 22, 7, 30, 1, 5, tzinfo=UTC)},
        status="success",
        execution_time=1.25,
        definition={"sql": "0a1b2c3d", "config:materialized": "4e5f6a7b"},
        parent_relations={"model.shop.stg_orders": '"analytics"."main"."stg_orders"'},
        extra={"owner": {"team": "data", "tags": ["a", {"b": None}]}, "attempts": 3},
    )


def record(seconds: int = 0, **fields: object) -> NodeRecord:
    return NodeRecord(last_updated=T0 + timedelta(seconds=seconds), **fields)  # type: ignore[arg-type]


# --- round trip --------------------------------------------------------------------------


def test_round_trip_preserves_every_field() -> None:
    items = {"model.shop.orders": full_record(), "model.shop.bare": record(5)}
    parsed = parse_state(dump_state(items), ORIGIN)
    assert parsed == items
    restored = parsed["model.shop.orders"]
    assert restored.sources["source.shop.raw.events"] is None
    assert restored.extra["owner"]["tags"][1]["b"] is None
    assert restored.execution_time == 1.25
    assert dict(restored.definition or {}) == {"sql": "0a1b2c3d", "config:materialized": "4e5f6a7b"}
    assert parsed["model.shop.bare"].definition is None
    assert dict(restored.parent_relations or {}) == {
        "model.shop.stg_orders": '"analytics"."main"."stg_orders"'
    }
    assert parsed["model.shop.bare"].parent_relations is None


def test_dump_is_deterministic_and_stable() -> None:
    a = {"model.b": full_record(), "model.a": record(1, checksum="x")}
    b = {"model.a": record(1, checksum="x"), "model.b": full_record()}
    text = dump_state(a)
    assert text == dump_state(b)
    assert dump_state(parse_state(text, ORIGIN)) == text
    assert text.endswith("\n")
    assert text.index('"model.a"') < text.index('"model.b"')
    item = json.loads(text)["state"]["model.b"]
    assert list(item) == sorted(item)


def test_timestamps_are_utc_with_z_and_microseconds_only_when_set() -> None:
    items = {
        "whole": record(0),
        "fraction": NodeRecord(last_updated=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)),
    }
    state = json.loads(dump_state(items))["state"]
    assert state["whole"]["last_updated"] == "2026-11-22T07:31:17Z"
    assert state["fraction"]["last_updated"] == "2026-01-02T03:04:05.120000Z"


def test_other_offsets_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 22, 9, 31, 17, tzinfo=plus_two)
    assert format_timestamp(moment) == "2026-11-22T07:31:17Z"
    assert NodeRecord(last_updated=moment).last_updated == T0
    assert NodeRecord(last_updated=moment).last_updated.utcoffset() == timedelta(0)


def test_naive_datetime_in_record_is_utc() -> None:
    naive = NodeRecord(last_updated=datetime(2026, 11, 22, 7, 31, 17))
    assert naive.last_updated == T0
    assert naive.last_updated.tzinfo is not None


# --- compatibility with dbt-orchestra ----------------------------------------------------


DBT_ORCHESTRA_DOCUMENT = """
{"state": {
  "model.shop.orders": {
    "last_updated": "2026-11-22T07:31:17Z",
    "checksum": "9f86d081884c7d659a2feaa0c55ad015",
    "sources": {"source.shop.raw.orders": "2026-11-22T07:00:00Z"}
  },
  "acct-1.analytics.main.customers": {
    "last_updated": "2026-11-22T07:31:17.123456+00:00",
    "checksum": "abc",
    "sources": {}
  }
}}
"""


def test_dbt_orchestra_document_loads() -> None:
    items = parse_state(DBT_ORCHESTRA_DOCUMENT, ORIGIN)
    assert set(items) == {"model.shop.orders", "acct-1.analytics.main.customers"}
    orders = items["model.shop.orders"]
    assert orders.last_updated == T0
    assert orders.checksum == "9f86d081884c7d659a2feaa0c55ad015"
    assert orders.sources == {"source.shop.raw.orders": datetime(2026, 11, 22, 7, tzinfo=UTC)}
    assert orders.fingerprint is None
    assert orders.relation is None
    assert orders.upstream == {}
    assert orders.status is None
    assert orders.execution_time is None
    assert orders.extra == {}
    customers = items["acct-1.analytics.main.customers"]
    assert customers.last_updated == T0.replace(microsecond=123456)


def test_dump_stays_readable_by_dbt_orchestra() -> None:
    """dbt-orchestra wants a string checksum and a timestamp for every `sources` entry."""
    items = {"model.shop.orders": full_record(), "model.shop.bare": record(5)}
    state = json.loads(dump_state(items))["state"]
    for item in state.values():
        assert isinstance(item["checksum"], str)
        assert isinstance(item["sources"], dict)
        for moment in item["sources"].values():
            assert isinstance(moment, str)
            parse_timestamp(moment)
    assert state["model.shop.orders"]["unmeasured_sources"] == ["source.shop.raw.events"]
    assert state["model.shop.bare"]["checksum"] == ""
    assert parse_state(dump_state(items), ORIGIN)["model.shop.bare"].checksum is None


def test_null_source_values_are_accepted() -> None:
    text = '{"state": {"m": {"last_updated": "2026-11-22T07:31:17Z", "sources": {"s": null}}}}'
    assert parse_state(text, ORIGIN)["m"].sources == {"s": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T07:31:17Z", T0),
        ("2026-11-22T07:31:17z", T0),
        ("2026-11-22T07:31:17+00:00", T0),
        ("2026-11-22T09:31:17+02:00", T0),
        ("2026-11-22T02:31:17-0500", T0),
        ("2026-11-22T07:31:17", T0),
        ("2026-11-22 07:31:17", T0),
        ("2026-11-22T07:31Z", T0.replace(second=0)),
        ("2026-11-22T07:31:17.5Z", T0.replace(microsecond=500000)),
        ("2026-11-22T07:31:17.123Z", T0.replace(microsecond=123000)),
        ("2026-11-22T07:31:17.123456+00:00", T0.replace(microsecond=123456)),
        ("2026-11-22T07:31:17.123456789Z", T0.replace(microsecond=123456)),
    ],
)
def test_timestamp_forms(text: str, expected: datetime) -> None:
    document = json.dumps({"state": {"m": {"last_updated": text}}})
    parsed = parse_state(document, ORIGIN)["m"].last_updated
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


# --- extra fields ------------------------------------------------------------------------


def test_extra_fields_survive_a_round_trip() -> None:
    text = json.dumps(
        {
            "state": {
                "m": {
                    "last_updated": "2026-11-22T07:31:17Z",
                    "checksum": "c",
                    "sources": {},
                    "future_field": {"nested": [1, 2.5, "x", None, True, {"k": []}]},
                    "another": "value",
                }
            }
        }
    )
    parsed = parse_state(text, ORIGIN)
    assert parsed["m"].extra == {
        "future_field": {"nested": (1, 2.5, "x", None, True, {"k": ()})},
        "another": "value",
    }
    redumped = json.loads(dump_state(parsed))["state"]["m"]
    assert redumped["future_field"] == {"nested": [1, 2.5, "x", None, True, {"k": []}]}
    assert redumped["another"] == "value"


def test_records_are_safe_to_share() -> None:
    sources: dict[str, datetime | None] = {"s": T0}
    extra = {"tags": ["a"], "meta": {"k": 1}}
    item = NodeRecord(last_updated=T0, sources=sources, extra=extra)
    sources["t"] = T0
    extra["tags"].append("b")  # type: ignore[attr-defined]
    assert dict(item.sources) == {"s": T0}
    assert item.extra == {"tags": ("a",), "meta": {"k": 1}}
    with pytest.raises(TypeError):
        item.sources["x"] = T0  # type: ignore[index]
    with pytest.raises(TypeError):
        item.extra["meta"]["k"] = 2


def test_extra_may_not_shadow_known_fields() -> None:
    with pytest.raises(ValueError, match="checksum"):
        NodeRecord(last_updated=T0, extra={"checksum": "x"})


# --- corruption ----------------------------------------------------------------------------


def item_doc(**fields: object) -> str:
    base: dict[str, object] = {"last_updated": "2026-11-22T07:31:17Z"}
    base.update(fields)
    return json.dumps({"state": {"model.shop.orders": base}})


CORRUPT: list[tuple[str, str, str]] = [
    ("not-json", "{not json", "not valid JSON (line 1"),
    ("empty", "", "not valid JSON"),
    ("truncated", '{"state": {"m": {"last_updated": "2026-11-22T07:31:17Z"', "not valid JSON"),
    ("array", "[]", "not an array"),
    ("string", '"state"', "not a string"),
    ("no-state", '{"items": {}}', 'no top-level "state"'),
    ("extra-top-level", '{"state": {}, "version": 2}', "'version'"),
    ("state-array", '{"state": []}', "an array, not an object"),
    ("state-null", '{"state": null}', "null, not an object"),
    ("item-number", '{"state": {"model.shop.orders": 3}}', "'model.shop.orders'"),
    ("item-null", '{"state": {"model.shop.orders": null}}', "not null"),
    ("no-last-updated", '{"state": {"model.shop.orders": {"checksum": "c"}}}', "missing"),
    ("last-updated-number", item_doc(last_updated=1700000000), "last_updated"),
    ("last-updated-word", item_doc(last_updated="yesterday"), "'yesterday'"),
    ("last-updated-month-13", item_doc(last_updated="2026-13-01T00:00:00Z"), "last_updated"),
    ("last-updated-date-only", item_doc(last_updated="2026-11-22"), "last_updated"),
    ("last-updated-null", item_doc(last_updated=None), "last_updated"),
    ("checksum-number", item_doc(checksum=5), "checksum"),
    ("sources-array", item_doc(sources=["a"]), "sources"),
    ("source-value-bad", item_doc(sources={"source.a": "soon"}), "source.a"),
    ("source-value-number", item_doc(sources={"source.a": 5}), "source.a"),
    ("upstream-null-value", item_doc(upstream={"model.x": None}), "model.x"),
    ("upstream-string", item_doc(upstream="model.x"), "upstream"),
    ("unmeasured-not-list", item_doc(unmeasured_sources="source.a"), "unmeasured_sources"),
    ("unmeasured-conflict",
     item_doc(sources={"source.a": "2026-11-22T07:00:00Z"}, unmeasured_sources=["source.a"]),
     "source.a"),
    ("status-number", item_doc(status=1), "status"),
    ("fingerprint-object", item_doc(fingerprint={}), "fingerprint"),
    ("relation-list", item_doc(relation=["a"]), "relation"),
    ("execution-time-string", item_doc(execution_time="fast"), "execution_time"),
    ("execution-time-bool", item_doc(execution_time=True), "execution_time"),
    ("execution-time-negative", item_doc(execution_time=-1), "execution_time"),
    ("definition-array", item_doc(definition=["sql"]), '"definition" must be an object'),
    ("definition-number", item_doc(definition={"sql": 5}), "\"definition\" of 'sql'"),
    ("definition-null-part", item_doc(definition={"sql": None}), "must be a string, not null"),
    ("parent-relations-array", item_doc(parent_relations=["m"]),
     '"parent_relations" must be an object'),
    ("parent-relations-number", item_doc(parent_relations={"model.x": 5}),
     "\"parent_relations\" of 'model.x' must be a string, not a number"),
    ("duplicate-key", '{"state": {"m": {"last_updated": "2026-11-22T07:31:17Z"}, '
     '"m": {"last_updated": "2026-11-22T07:31:17Z"}}}', "'m'"),
    ("nan", '{"state": {"m": {"last_updated": "2026-11-22T07:31:17Z", "x": NaN}}}', "NaN"),
    ("huge-number", '{"state": {"m": {"last_updated": "2026-11-22T07:31:17Z", "x": 1e999}}}',
     "1e999"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fragment"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT]
)
def test_corruption_is_an_error_naming_the_origin(text: str, fragment: str) -> None:
    with pytest.raises(OrcError) as caught:
        parse_state(text, ORIGIN)
    message = str(caught.value)
    assert message.startswith(f"state file {ORIGIN} ")
    assert fragment in message
    assert "\n" not in message


def test_json_error_names_the_line() -> None:
    text = '{\n  "state": {\n    "m": {"last_updated": }\n  }\n}'
    with pytest.raises(OrcError, match=r"is not valid JSON \(line 3"):
        parse_state(text, ORIGIN)


def test_invalid_item_names_its_key() -> None:
    with pytest.raises(OrcError, match=r"invalid item 'model\.shop\.orders'"):
        parse_state(item_doc(checksum=5), ORIGIN)


# --- the merge rule ----------------------------------------------------------------------


def test_merge_newer_update_wins() -> None:
    current = {"m": record(0, checksum="old")}
    updates = {"m": record(10, checksum="new")}
    assert merge_states(current, updates, now=NOW)["m"].checksum == "new"


def test_merge_older_update_loses() -> None:
    current = {"m": record(10, checksum="current")}
    updates = {"m": record(0, checksum="stale")}
    assert merge_states(current, updates, now=NOW)["m"].checksum == "current"


def test_merge_tie_keeps_the_record_with_the_measured_table_version() -> None:
    built = {"m": record(5, version={})}
    measured = {"m": record(5, version={"rows": "3"})}
    assert merge_states(built, measured, now=NOW)["m"].version == {"rows": "3"}
    assert merge_states(measured, built, now=NOW)["m"].version == {"rows": "3"}


def test_merge_any_other_tie_is_decided_the_same_whatever_the_order() -> None:
    first, second = {"m": record(5, checksum="a")}, {"m": record(5, checksum="b")}
    assert merge_states(first, second, now=NOW) == merge_states(second, first, now=NOW)


def test_merge_a_future_dated_record_loses_to_a_trusted_one() -> None:
    now = T0 + timedelta(hours=1)
    future = {"m": record(3600 + 6 * 60, checksum="future")}  # 6 minutes after now
    fresh = {"m": record(60, checksum="fresh")}
    assert merge_states(future, fresh, now=now)["m"].checksum == "fresh"
    assert merge_states(fresh, future, now=now)["m"].checksum == "fresh"
    skewed = {"m": record(3600 + 4 * 60, checksum="skewed")}  # within the allowance
    assert merge_states(fresh, skewed, now=now)["m"].checksum == "skewed"


def test_merge_keeps_untouched_and_adds_new_keys() -> None:
    current = {"a": record(0, checksum="a"), "b": record(0, checksum="b")}
    updates = {"b": record(1, checksum="b2"), "c": record(0, checksum="c")}
    merged = merge_states(current, updates, now=NOW)
    assert {key: value.checksum for key, value in merged.items()} == {
        "a": "a",
        "b": "b2",
        "c": "c",
    }


def test_merge_removals() -> None:
    current = {"a": record(0), "b": record(0)}
    updates = {"c": record(0)}
    merged = merge_states(current, updates, removals=["a", "c", "not-there"], now=NOW)
    assert set(merged) == {"b"}


def test_merge_does_not_modify_its_inputs() -> None:
    current = {"a": record(0)}
    updates = {"a": record(1), "b": record(0)}
    merge_states(current, updates, removals=["a"], now=NOW)
    assert set(current) == {"a"}
    assert current["a"] == record(0)
    assert set(updates) == {"a", "b"}


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (', "execution_time": 1' + "0" * 400, "number too large"),
        (', "other": 1' + "0" * 5000, "number too long"),
        (', "a": 1, "a": 2', "repeats the key 'a'"),
    ],
)
def test_numbers_beyond_reach_and_repeated_keys_are_named(extra: str, problem: str) -> None:
    text = '{"state": {"m": {"last_updated": "2026-01-01T00:00:00Z"' + extra + "}}}"
    with pytest.raises(OrcError, match=problem):
        parse_state(text, ORIGIN)
