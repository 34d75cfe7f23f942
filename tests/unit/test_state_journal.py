"""The local backend's journal: one append per node, replayed on load, folded in on save."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestra_dbt_py.core.document import dump_journal_line, replay_journal
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.local import LocalFileBackend

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


def record(minutes: int, fingerprint: str = "fp") -> NodeRecord:
    return NodeRecord(last_updated=T0 + timedelta(minutes=minutes), fingerprint=fingerprint)


def test_replay_applies_lines_in_order_and_ignores_a_torn_last_line() -> None:
    text = (
        dump_journal_line({"a": record(1), "b": record(1)})
        + dump_journal_line({}, ["a"])
        + dump_journal_line({"a": record(3)})
        + dump_journal_line({"c": record(4)})[:-9]  # the writer was killed mid-line
    )
    replayed = replay_journal({"b": record(2, "newer")}, text, "journal", NOW)
    assert replayed == {"a": record(3), "b": record(2, "newer")}


def test_a_corrupt_complete_line_is_an_error() -> None:
    with pytest.raises(OrcError, match="unreadable line 2"):
        replay_journal({}, dump_journal_line({"a": record(1)}) + "{oops\n", "journal", NOW)


def test_journal_survives_until_the_next_save_folds_it_in(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    backend = LocalFileBackend(state)
    backend.init()
    backend.update({"a": record(0)})
    before = state.read_bytes()

    backend.journal({"b": record(1)}, ())
    backend.journal({}, ("a",))
    assert state.read_bytes() == before  # appends never rewrite the document
    assert LocalFileBackend(state).load() == {"b": record(1)}  # a new process sees them

    backend.update({"c": record(2)})
    assert not (tmp_path / "state.json.journal").exists()
    assert LocalFileBackend(state).load() == {"b": record(1), "c": record(2)}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"removed": 5}', '"removed" is not a list of keys'),
        ('{"removed": [1]}', '"removed" is not a list of keys'),
        ("[]", 'not an object of "state" and "removed"'),
        ("{}", 'not an object of "state" and "removed"'),
        ('{"state": {}, "other": 1}', 'not an object of "state" and "removed"'),
        ('{"state": 3}', '"state" that is a number'),
        ('{"state": {"a": {"last_updated": "0001-01-01T00:00:00+01:00"}}}', "years 1 to 9999"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_every_unreadable_line_is_one_error_naming_it(line: str, problem: str) -> None:
    text = dump_journal_line({"a": record(1)}) + line + "\n"
    with pytest.raises(OrcError, match="unreadable line 2") as caught:
        replay_journal({}, text, "journal", NOW)
    assert problem in str(caught.value)


def test_a_line_with_records_and_removals_applies_both() -> None:
    line = '{"removed": ["b"], "state": {"a": {"last_updated": "2026-11-22T07:01:00Z"}}}\n'
    replayed = replay_journal({"b": record(0)}, line, "journal", NOW)
    assert list(replayed) == ["a"]


def test_a_torn_last_line_is_set_aside_before_the_next_append(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    journal = tmp_path / "state.json.journal"
    notices: list[str] = []
    backend = LocalFileBackend(state, on_wait=notices.append)
    backend.init()
    complete = dump_journal_line({"a": record(1)})
    torn = b'{"state": {"x": {"checks'
    journal.write_bytes(complete.encode() + torn)

    backend.journal({"b": record(2)}, ())
    assert journal.read_text() == complete + dump_journal_line({"b": record(2)})
    [aside] = tmp_path.glob("state.json.journal.torn-line-*")
    assert aside.read_bytes() == torn
    assert str(aside) in notices[0]
    assert LocalFileBackend(state).load() == {"a": record(1), "b": record(2)}


def test_a_torn_last_line_is_set_aside_when_the_journal_is_folded_in(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    journal = tmp_path / "state.json.journal"
    backend = LocalFileBackend(state)
    backend.init()
    torn = '{"state": {"é'.encode()[:-1]  # cut inside a two-byte character
    journal.write_bytes(dump_journal_line({"a": record(1)}).encode() + torn)
    assert LocalFileBackend(state).load() == {"a": record(1)}  # readers skip it

    backend.update({"b": record(2)})
    assert not journal.exists()
    [aside] = tmp_path.glob("state.json.journal.torn-line-*")
    assert aside.read_bytes() == torn
    assert LocalFileBackend(state).load() == {"a": record(1), "b": record(2)}
