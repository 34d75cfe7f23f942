"""What the recorder saves for each dbt outcome, on a real local state file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import source_version
from orchestra_dbt_py.recorder import RunRecorder, checkpoint_pause
from orchestra_dbt_py.state.backend import ScopedBackend, StateBackend
from orchestra_dbt_py.state.local import LocalFileBackend

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
SRC = "source.p.raw.orders"
VIEW = "model.p.stg"
TABLE = "model.p.fct"
FAILING = "model.p.broken"
SKIPPED = "model.p.after_broken"
TEST = "test.p.not_null_fct_id"

NODES = {
    SRC: Node(SRC, "source"),
    VIEW: Node(VIEW, "model", "view", (SRC,), '"d"."s"."stg"', "fp-stg"),
    TABLE: Node(TABLE, "model", "table", (VIEW,), '"d"."s"."fct"', "fp-fct"),
    FAILING: Node(FAILING, "model", "table", (TABLE,), '"d"."s"."broken"', "fp-b"),
    SKIPPED: Node(SKIPPED, "model", "table", (FAILING,), '"d"."s"."after"', "fp-a"),
    TEST: Node(TEST, "test", "test", (TABLE,), None, "fp-t"),
}
SCOPE = KeyScope(target="dev", location='"d"."s"')


def old_record(uid: str) -> NodeRecord:
    return NodeRecord(last_updated=T0, fingerprint="old", relation=NODES[uid].relation)


def test_outcomes_are_recorded(tmp_path: Path) -> None:
    backend = LocalFileBackend(tmp_path / "state.json")
    backend.init()
    # Records of an older orc, under plain keys: read as this target's (same relation).
    backend.update({uid: old_record(uid) for uid in (FAILING, SKIPPED)})
    clock = iter(T0 + timedelta(minutes=i) for i in range(1, 100))
    known = SCOPE.records_of(NODES, backend.load())
    assert known == {uid: old_record(uid) for uid in (FAILING, SKIPPED)}
    recorder = RunRecorder(
        nodes=NODES,
        known=known,
        versions={SRC: source_version(T0 - timedelta(hours=1), {"rows": "3"})},
        checksums={TABLE: "abc"},
        backend=backend,
        scope=SCOPE,
        clock=lambda: next(clock),
    )
    recorder.start()
    recorder.node_finished(VIEW, "success", 0.1)
    recorder.node_finished(TABLE, "success", 2.5)
    recorder.node_finished(TEST, "warn", 0.2)
    recorder.node_finished(FAILING, "error", 0.3)
    recorder.node_finished(SKIPPED, "skipped", 0.0)
    recorder.finish()

    document = backend.load()
    saved = SCOPE.records_of(NODES, document)
    assert {key for key in document if "@" in key} == {
        f"{uid}@{NODES[uid].relation or SCOPE.location}" for uid in saved
    }
    assert all(record.target == "dev" for record in saved.values())
    # The plain keys hold slim mirrors (dbt-orchestra's fields, relation and target).
    assert document[TABLE] == NodeRecord(
        last_updated=saved[TABLE].last_updated,
        checksum="abc",
        sources={SRC: T0 - timedelta(hours=1)},
        relation='"d"."s"."fct"',
        target="dev",
    )
    table = saved[TABLE]
    assert table.fingerprint == "fp-fct" and table.checksum == "abc"
    assert table.relation == '"d"."s"."fct"' and table.status == "success"
    assert table.execution_time == 2.5
    assert table.sources == {SRC: T0 - timedelta(hours=1)}  # read through the view
    assert table.data_versions == {SRC: source_version(T0 - timedelta(hours=1), {"rows": "3"})}
    assert table.version == {}  # measured after the run (set_table_versions)
    recorder.set_table_versions({TABLE: {"rows": "3"}})
    recorder.finish()
    assert SCOPE.records_of(NODES, backend.load())[TABLE].version == {"rows": "3"}
    assert table.upstream == {VIEW: saved[VIEW].last_updated}
    assert saved[TEST].status == "warn"
    assert saved[TEST].upstream == {TABLE: table.last_updated}
    # A failed build and a skipped one leave only their outcome, which nothing can reuse,
    # in place of the last good record (the failed table may be half-written).
    for uid, status, moment in ((FAILING, "error", 4), (SKIPPED, "skipped", 5)):
        assert saved[uid] == NodeRecord(
            last_updated=T0 + timedelta(minutes=moment),
            relation=NODES[uid].relation,
            status=status,
            execution_time=0.3 if status == "error" else 0.0,
            target="dev",
        )
    assert recorder.statuses[SKIPPED] == "skipped"


def test_exceptions_never_escape_the_dbt_callback(tmp_path: Path) -> None:
    backend = LocalFileBackend(tmp_path / "state.json")
    backend.init()
    recorder = RunRecorder(NODES, {}, {}, {}, backend, SCOPE)
    recorder.on_event(object())  # not an event at all
    assert recorder.statuses == {}


def test_a_clone_is_recorded_once_the_view_it_reads_is_built(tmp_path: Path) -> None:
    """A clone (TABLE) reads a view dbt builds in the same run: its record waits for the
    view's, so it names that build, and a build after it (FAILING) names the clone's."""
    backend = LocalFileBackend(tmp_path / "state.json")
    backend.init()
    clock = iter(T0 + timedelta(minutes=i) for i in range(1, 100))
    recorder = RunRecorder(
        nodes=NODES,
        known={},
        versions={},
        checksums={},
        backend=backend,
        scope=SCOPE,
        clock=lambda: next(clock),
    )
    recorder.record_after(TABLE, {VIEW}, 0.5)
    assert TABLE not in recorder.known
    recorder.node_finished(VIEW, "success", 0.1)
    recorder.node_finished(FAILING, "success", 0.3)
    assert recorder.known[TABLE].upstream == {VIEW: recorder.known[VIEW].last_updated}
    assert recorder.known[FAILING].upstream == {TABLE: recorder.known[TABLE].last_updated}
    # A clone whose view was never built is recorded at the end, without that build.
    recorder.record_after(SKIPPED, {"model.p.never_built"}, 0.2)
    assert recorder.record_waiting() and recorder.known[SKIPPED].status == "success"
    assert not recorder.record_waiting()


def test_nodes_that_end_after_a_signal_are_interrupted_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestra_dbt_py.core.planner import Decision, Plan
    from orchestra_dbt_py.report import console

    backend = LocalFileBackend(tmp_path / "state.json")
    backend.init()
    recorder = RunRecorder(NODES, {}, {}, {}, backend, SCOPE)
    recorder.node_finished(VIEW, "success", 0.1)
    recorder.node_finished(FAILING, "error", 0.3)  # failed before any signal
    recorder.signals.append(15)  # as the SIGTERM handler does, before dbt cancels
    recorder.node_finished(TABLE, "error", 2.5)
    recorder.node_finished(SKIPPED, "skipped", 0.0)
    assert recorder.interrupted == {TABLE, SKIPPED}
    plan = Plan({uid: Decision(uid, "build", "new") for uid in (VIEW, FAILING, TABLE, SKIPPED)})
    console.configure({})
    console.summarize(plan, recorder.statuses, 0.0, recorder.interrupted)
    summary = capsys.readouterr().out.split("orc: ", 1)[1].strip()
    assert summary == "Reused 0 of 4 nodes; ran 4 (1 failed, 0 skipped, 2 interrupted)"


def test_a_journal_makes_checkpoints_rarer(tmp_path: Path) -> None:
    """A local file's journal keeps each outcome as the node finishes: its checkpoints only
    fold the journal into the document, and take a tenth of the time a backend without one
    is given (whose checkpoints are all that outlives a killed run)."""
    local = LocalFileBackend(tmp_path / "state.json")
    scoped = ScopedBackend(local, KeyScope(account="acct", target="dev"))
    remote = StateBackend()
    assert local.journaled and scoped.journaled and not remote.journaled
    assert checkpoint_pause(local, 0.05) == pytest.approx(15.0)
    assert checkpoint_pause(scoped, 0.05) == pytest.approx(15.0)
    assert checkpoint_pause(remote, 0.05) == remote.checkpoint_seconds == 2.0
    assert checkpoint_pause(remote, 0.2) == pytest.approx(6.0)
    # A first checkpoint (no save timed yet) waits the backend's interval only.
    assert checkpoint_pause(local, 0.0) == local.checkpoint_seconds
