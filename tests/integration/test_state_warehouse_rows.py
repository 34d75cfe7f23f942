"""The warehouse state table's rows, on real DuckDB files and a real PostgreSQL server,
through `orc state` commands (the project and its warehouse are staged as in
tests/support/hooked.py):

* a record of any year keeps the table's text order, so an old record pushed into the table
  never deletes a newer row of its key, nor is kept over the next one;
* a row orc cannot trust stops every reader with one line naming the table, the key and
  the fix, and nothing is written over it; rows of other kinds are left alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from orchestra_dbt_py.core.document import dump_item_json, dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord
from tests.support.hooked import HookedProject

NEWER = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
OLDER = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)


def record(moment: datetime, fingerprint: str) -> NodeRecord:
    return NodeRecord(last_updated=moment, fingerprint=fingerprint, status="success")


def push(project: HookedProject, items: dict[str, NodeRecord]) -> None:
    path = project.dir / "pushed.json"
    path.write_text(dump_state(items))
    project.orc("state", "push", str(path))


def loaded(project: HookedProject) -> dict[str, NodeRecord]:
    """The state as orc loads it from the table."""
    return parse_state(project.orc("state", "show", "--json").stdout, "orc state show --json")


def stored(project: HookedProject) -> dict[str, list[str]]:
    """The `last_updated` text of every node row of each key, oldest first."""
    rows: dict[str, list[str]] = {}
    for row in project.rows():
        rows.setdefault(row.key, []).append(row.last_updated)
    return rows


def test_old_records_never_delete_newer_rows_and_rewrites_replace_theirs(wh: HookedProject) -> None:
    wh.orc("state", "init")
    push(wh, {"model.p.a": record(NEWER, "a-new")})
    # An old record of a key that has a newer row: the newer row stays, the old one goes.
    push(wh, {"model.p.a": record(OLDER, "a-old"), "model.p.b": record(OLDER, "b-old")})
    assert stored(wh) == {
        "model.p.a": ["2026-03-04T05:06:07.000000Z"],
        "model.p.b": ["0999-01-02T03:04:05.000000Z"],
    }
    # The next build of a key whose row is old supersedes it.
    push(wh, {"model.p.b": record(NEWER, "b-new")})
    assert stored(wh) == {
        "model.p.a": ["2026-03-04T05:06:07.000000Z"],
        "model.p.b": ["2026-03-04T05:06:07.000000Z"],
    }
    # A record written again with the same time (a checkpoint, then the table's version)
    # replaces its row: two rows of one time would leave the reader to pick one.
    push(wh, {"model.p.b": record(NEWER, "b-again")})
    assert stored(wh) == {
        "model.p.a": ["2026-03-04T05:06:07.000000Z"],
        "model.p.b": ["2026-03-04T05:06:07.000000Z"],
    }
    state = loaded(wh)
    assert {key: item.fingerprint for key, item in state.items()} == {
        "model.p.a": "a-new",
        "model.p.b": "b-again",
    }


def sql_text(value: str | None) -> str:
    return "null" if value is None else "'" + value.replace("'", "''") + "'"


def insert(
    project: HookedProject, key: str | None, kind: str | None, at: str | None, item: str | None
) -> None:
    values = ", ".join(sql_text(cell) for cell in (key, kind, at, item))
    project.execute(f"insert into {project.table} values ({values})")


GOOD = dump_item_json(record(NEWER, "fp"))
GOOD_AT = "2026-03-04T05:06:07.000000Z"
OUT_OF_RANGE = '{"last_updated": "9999-12-31T23:59:59-01:00"}'

# (key, last_updated text, item, words of the message); None is NULL.
UNTRUSTED = [
    (None, GOOD_AT, GOOD, ["a node row whose state_key is NULL", "delete that row"]),
    ("model.p.bad", GOOD_AT, None, ["'model.p.bad'", "its item is NULL"]),
    ("model.p.bad", "2026-03-05T00:00:00.000000Z", GOOD, ["'model.p.bad'", f"'{GOOD_AT}'"]),
    (
        "model.p.bad",
        "999-01-02T03:04:05.000000Z",
        dump_item_json(record(OLDER, "fp")),
        ["'model.p.bad'", "set the column to '0999-01-02T03:04:05.000000Z'"],
    ),
    ("model.p.bad", GOOD_AT, OUT_OF_RANGE, ["'model.p.bad'", "outside the years 1 to 9999"]),
]


def test_rows_orc_cannot_trust_stop_it_with_one_line(wh: HookedProject) -> None:
    where = f"warehouse:{wh.table}"
    wh.orc("state", "init")
    # A table made without `not null` (by hand, or copied with `create table as`).
    for column in ("state_key", "kind", "last_updated", "item"):
        wh.execute(f"alter table {wh.table} alter column {column} drop not null")
    insert(wh, "model.p.good", "node", GOOD_AT, GOOD)
    # Rows of other kinds (or none) are no node's record: left out, and left alone.
    insert(wh, "model.p.good", "future_kind", "9999-01-01T00:00:00.000000Z", "{not json")
    insert(wh, "model.p.good", None, "9999-01-01T00:00:00.000000Z", "{not json")
    push(wh, {"model.p.pushed": record(NEWER, "fp")})
    assert set(loaded(wh)) == {"model.p.good", "model.p.pushed"}
    kept = wh.rows()
    assert len(kept) == 4

    pushed = wh.dir / "pushed.json"
    for key, at, item, words in UNTRUSTED:
        insert(wh, key, "node", at, item)
        with_bad_row = wh.rows()
        for command in (("state", "show"), ("state", "push", str(pushed))):
            failed = wh.orc(*command, expect=2)
            lines = failed.stderr.splitlines()
            assert len(lines) == 1, failed.stderr
            assert lines[0].startswith(f"orc: error: state table {where} has "), lines[0]
            assert lines[0].endswith("orc never overwrites it"), lines[0]
            assert all(word in lines[0] for word in words), lines[0]
        assert wh.rows() == with_bad_row
        key_is = "is null" if key is None else f"= {sql_text(key)}"
        wh.execute(f"delete from {wh.table} where kind = 'node' and state_key {key_is}")
        assert wh.rows() == kept


@pytest.mark.parametrize("year", [1, 999])
def test_old_records_read_back_as_written(wh: HookedProject, year: int) -> None:
    moment = datetime(year, 6, 7, 8, 9, 10, 11, tzinfo=UTC)
    push(wh, {"model.p.old": record(moment, "fp")})
    assert [row.last_updated for row in wh.rows()] == [f"{year:04d}-06-07T08:09:10.000011Z"]
    assert json.loads(wh.rows()[0].item)["last_updated"] == f"{year:04d}-06-07T08:09:10.000011Z"
    assert loaded(wh)["model.p.old"].last_updated == moment


def test_a_row_from_the_future_never_outlives_a_trusted_one(wh: HookedProject) -> None:
    """Pushed rows merge under the rule of every backend: a record dated after the clock
    (beyond the skew allowance) is kept alone, loses to a trusted one, and its row goes."""
    future = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    wh.orc("state", "init")
    push(wh, {"model.p.a": record(future, "a-future")})
    assert stored(wh) == {"model.p.a": ["2099-01-02T03:04:05.000000Z"]}
    assert loaded(wh)["model.p.a"].fingerprint == "a-future"
    push(wh, {"model.p.a": record(NEWER, "a-trusted")})
    assert loaded(wh)["model.p.a"].fingerprint == "a-trusted"
    assert stored(wh) == {"model.p.a": ["2026-03-04T05:06:07.000000Z"]}
