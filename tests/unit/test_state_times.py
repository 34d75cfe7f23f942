"""The state table's time text: orc's `fixed_time` (Python) and the package's `_state_time`
macro (Jinja, rendered with dbt's own engine by tests/support/macro_render.py) write the same text
for the same instant, with a four-digit year and six fraction digits, so that text order is
time order for every year (the table's SQL orders and deletes rows by that text). With
`fixed=false` the macro writes what orc's `format_timestamp` writes (the JSON's times).
"""

from __future__ import annotations

import datetime as dt

import pytest

from orchestra_dbt_py.core.records import format_timestamp, parse_timestamp
from orchestra_dbt_py.state.table import fixed_time
from tests.support.macro_render import MacroRenderer

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
MINUS_FIVE = dt.timezone(dt.timedelta(hours=-5, minutes=-30))

# (instant, the fixed-width text), oldest first.
INSTANTS = [
    (dt.datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
    (dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), "0001-01-01T00:00:00.000001Z"),
    (dt.datetime(12, 3, 4, 5, 6, 7, tzinfo=UTC), "0012-03-04T05:06:07.000000Z"),
    (dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000000Z"),
    (dt.datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "0999-12-31T23:59:59.999999Z"),
    (dt.datetime(1000, 1, 1, tzinfo=UTC), "1000-01-01T00:00:00.000000Z"),
    (dt.datetime(1000, 1, 1, 0, 0, 0, 500, tzinfo=UTC), "1000-01-01T00:00:00.000500Z"),
    (dt.datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC), "2026-11-22T07:31:17.000000Z"),
    (dt.datetime(2026, 11, 22, 7, 31, 17, 250000, tzinfo=UTC), "2026-11-22T07:31:17.250000Z"),
    (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59.000000Z"),
    (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
]


def render(value: dt.datetime, **kwargs: bool) -> str:
    text = MacroRenderer("postgres").call("_state_time", value, **kwargs)
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize(("instant", "text"), INSTANTS, ids=[text for _, text in INSTANTS])
def test_python_and_jinja_write_the_same_fixed_width_text(instant: dt.datetime, text: str) -> None:
    assert fixed_time(instant) == text
    assert render(instant) == text
    # Naive values are UTC on both sides; other offsets are converted.
    naive = instant.replace(tzinfo=None)
    assert fixed_time(naive) == text and render(naive) == text
    if dt.datetime(2, 1, 1, tzinfo=UTC) <= instant <= dt.datetime(9999, 12, 30, tzinfo=UTC):
        for zone in (PLUS_TWO, MINUS_FIVE):
            assert fixed_time(instant.astimezone(zone)) == text
            assert render(instant.astimezone(zone)) == text
    # The text reads back as the same instant.
    assert parse_timestamp(text) == instant


@pytest.mark.parametrize(("instant", "text"), INSTANTS, ids=[text for _, text in INSTANTS])
def test_jinja_writes_format_timestamp_when_not_fixed(instant: dt.datetime, text: str) -> None:
    expected = format_timestamp(instant)
    assert render(instant, fixed=False) == expected
    assert render(instant.replace(tzinfo=None), fixed=False) == expected
    assert expected == (text.replace(".000000Z", "Z") if instant.microsecond == 0 else text)


def test_text_order_is_time_order() -> None:
    texts = [fixed_time(instant) for instant, _ in INSTANTS]
    assert sorted(texts) == texts
    assert len({len(text) for text in texts}) == 1


def test_state_now_is_fixed_width_utc() -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    text = MacroRenderer("postgres").call("_state_now")
    after = dt.datetime.now(UTC)
    assert isinstance(text, str) and len(text) == len(fixed_time(after))
    assert before <= parse_timestamp(text) <= after
