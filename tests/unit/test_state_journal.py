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


def record(minutes: int, fingerprint: str = "fp") -> NodeRecord:
    return NodeRecord(last_updated=T0 + timedelta(minutes=minutes), fingerprint=fingerprint)


def test_replay_applies_lines_in_order_and_ignores_a_torn_last_line() -> None:
    text = (
        dump_journal_line({"a": record(1), "b": record(1)})
        + dump_journal_line({}, ["a"])
        + dump_journal_line({"a": record(3)})
        + dump_journal_line({"c": record(4)})[:-9]  # the writer was killed mid-line
    )
    replayed = replay_journal({"b": record(2, "newer")}, text, "journal")
    assert replayed == {"a": record(3), "b": record(2, "newer")}


def test_a_corrupt_complete_line_is_an_error() -> None:
    with pytest.raises(OrcError, match="unreadable line 2"):
        replay_journal({}, dump_journal_line({"a": record(1)}) + "{oops\n", "journal")


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


def test_journal_needs_an_initialised_state(tmp_path: Path) -> None:
    with pytest.raises(OrcError, match="orc state init"):
        LocalFileBackend(tmp_path / "state.json").journal({"a": record(0)}, ())
