"""Building in rounds on a shared claims board: what is claimed, run, waited for and planned
again (an in-memory board; the real backends are tested in their own files)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestra_dbt_py.coordination import HOST, Coordinator
from orchestra_dbt_py.core.claims import Claim
from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.planner import Decision, Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.phases import Phases
from orchestra_dbt_py.rounds import build_in_rounds
from orchestra_dbt_py.state.backend import StateBackend

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
X, Y, Z = "model.p.x", "model.p.y", "model.p.z"
NODES = {
    X: Node(X, "model", "table", (), "x", "fx"),
    Y: Node(Y, "model", "table", (X,), "y", "fy"),
    Z: Node(Z, "model", "table", (), "z", "fz"),
}


class Board(StateBackend):
    """A claims board in memory; `on_change` may play another run between two changes."""

    no_claims_reason = None

    def __init__(self, claims: Mapping[str, Claim] = ()) -> None:  # type: ignore[assignment]
        self.claims: dict[str, Claim] = dict(claims)
        self.lock = threading.Lock()
        self.on_change: Callable[[Board], None] = lambda board: None

    def change_claims(self, change: Any) -> Any:
        self.on_change(self)
        with self.lock:
            self.claims, result = change(dict(self.claims))
        return result


def other(run_id: str = "other", pid: int = 1, host: str = "elsewhere", minutes: int = 5) -> Claim:
    return Claim(run_id, host, pid, "ana", NOW, NOW + timedelta(minutes=minutes))


def a_plan(build: Sequence[str], reuse: Sequence[str] = ()) -> Plan:
    decisions = {uid: Decision(uid, "build", "stale") for uid in build}
    decisions.update({uid: Decision(uid, "reuse", "unchanged") for uid in reuse})
    return Plan(decisions)


def coordinator(board: Board) -> Coordinator:
    return Coordinator(board, lambda uid: uid, 60.0, poll_seconds=0.01, clock=lambda: NOW)


class Builder:
    """The run's side of building in rounds: records what dbt was asked to run."""

    def __init__(
        self,
        board: Board | None,
        replans: list[Plan],
        state: Callable[[], Mapping[str, NodeRecord]],
        said: list[str],
        only: list[bool],
        first: Sequence[str] = (),
    ) -> None:
        self.coordinator = coordinator(board) if board is not None else None
        self.board, self.replans, self.state, self.said = board, replans, state, said
        self.runs: list[list[str]] = []
        self.only = only
        self.first = first

    def run(self, node_ids: Sequence[str], only: bool) -> tuple[int, bool]:
        self.runs.append(sorted(node_ids))
        self.only.append(only)
        if self.board is not None and self.coordinator is not None:
            run_id = self.coordinator.run_id
            held = {k for k, c in self.board.claims.items() if c.run_id == run_id}
            self.said.append(f"held while dbt ran: {sorted(held)}")
        return 0, False

    def load_state(self) -> Mapping[str, NodeRecord]:
        return self.state()

    def replan(self) -> tuple[Plan, Mapping[str, NodeRecord]]:
        return self.replans.pop(0), {}

    def run_first(self, pending: Sequence[str]) -> tuple[list[str], bool]:
        first = [uid for uid in pending if uid in self.first]
        return (first, True) if first else (list(pending), False)


def build(
    board: Board | None,
    planned: Plan,
    replans: list[Plan] | None = None,
    state: Callable[[], Mapping[str, NodeRecord]] = dict,
    max_wait: float = 60.0,
    only: list[bool] | None = None,
    first: Sequence[str] = (),
) -> tuple[Any, list[list[str]], list[str]]:
    """Build in rounds; `only` receives, per dbt invocation, whether the builder was told
    it is the command's one invocation (where dbt runs the on-run-end hooks itself)."""
    said: list[str] = []
    builder = Builder(board, list(replans or []), state, said, [] if only is None else only, first)
    done = build_in_rounds(
        NODES,
        planned,
        {},
        builder,
        coordinator=builder.coordinator,
        max_wait_seconds=max_wait,
        say=said.append,
        phases=Phases(),
    )
    if builder.coordinator is not None:
        builder.coordinator.stop()
    return done, builder.runs, said


def test_without_coordination_dbt_runs_once_on_every_node_to_build() -> None:
    only: list[bool] = []
    done, runs, said = build(None, a_plan([X, Y, Z]), only=only)
    assert runs == [[X, Y, Z]] and said == [] and done.executed == {X, Y, Z}
    assert only == [True]


def test_what_must_run_first_runs_alone_then_the_rest_is_planned_again() -> None:
    # Z's hooks write rows X reads: Z first; the new plan (on what Z wrote) builds X and Y.
    only: list[bool] = []
    again = a_plan([X, Y], reuse=[Z])
    done, runs, said = build(None, a_plan([Y, Z], reuse=[X]), [again], only=only, first=[Z])
    assert runs == [[Z], [X, Y]] and said == []
    assert only == [False, False]  # two invocations: orc runs the on-run-end hooks after
    assert done.executed == {X, Y, Z}
    assert done.plan.decisions[Z].action == "build"  # what ran keeps its decision


def test_the_rest_is_planned_again_even_when_the_writer_is_all_there_was_to_build() -> None:
    again = a_plan([X], reuse=[Z])  # X reads what Z's hooks wrote
    done, runs, _ = build(None, a_plan([Z], reuse=[X]), [again], first=[Z])
    assert runs == [[Z], [X]] and done.executed == {X, Z}


def test_what_must_run_first_is_claimed_alone() -> None:
    board = Board()
    again = a_plan([X], reuse=[Z])
    _done, runs, said = build(board, a_plan([X, Z]), [again], first=[Z])
    assert runs == [[Z], [X]]
    assert said == [f"held while dbt ran: {[Z]}", f"held while dbt ran: {[X]}"]
    assert board.claims == {}


def test_free_nodes_are_claimed_built_and_released() -> None:
    board = Board()
    _done, runs, said = build(board, a_plan([X, Y], reuse=[Z]))
    assert runs == [[X, Y]]
    assert said == [f"held while dbt ran: {[X, Y]}"]
    assert board.claims == {}  # released after the records were saved


def test_a_node_another_run_builds_is_waited_for_then_reused() -> None:
    board = Board({X: other()})
    polls = []

    def other_run_finishes(current: Board) -> None:
        polls.append(1)
        if len(polls) == 4:  # the other run saves X and releases it while this one waits
            current.claims.pop(X, None)

    board.on_change = other_run_finishes
    again = a_plan([Y], reuse=[X, Z])  # X's new record covers the data; Y reads a new X
    only: list[bool] = []
    done, runs, said = build(board, a_plan([X, Y, Z]), replans=[again], only=only)
    # Z first (free); Y waits with X, its upstream; then Y alone, X reused.
    assert runs == [[Z], [Y]]
    assert only == [False, False]  # two invocations: orc runs the on-run-end hooks after
    assert said[0] == f"held while dbt ran: {[Z]}" and said[2] == f"held while dbt ran: {[Y]}"
    assert said[1].startswith("waited ")
    assert "x held by run other (ana on elsewhere, pid 1)" in said[1]
    assert done.plan.decisions[X].action == "reuse"
    assert done.plan.decisions[X].reason.startswith("built by run other (ana on elsewhere")
    assert done.plan.decisions[Z].action == "build"  # this run's own decision is kept
    assert board.claims == {}


def test_after_the_maximum_wait_the_node_is_built_anyway() -> None:
    board = Board({X: other()})
    only: list[bool] = []
    _done, runs, said = build(
        board, a_plan([X, Y]), replans=[a_plan([X, Y])], max_wait=0.05, only=only
    )
    assert runs == [[X, Y]] and only == [True]  # nothing ran before the wait
    assert "still held after the maximum wait" in said[1] and "building x without" in said[1]
    assert board.claims == {X: other()}  # the other run's claim is left alone


def test_expired_and_dead_holders_are_taken_over_at_once() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    board = Board({X: other(minutes=-1), Y: other("gone", pid=dead.pid, host=HOST)})
    _, runs, said = build(board, a_plan([X, Y]))
    assert runs == [[X, Y]] and said == [f"held while dbt ran: {[X, Y]}"]


def test_a_live_process_on_this_host_keeps_its_claim() -> None:
    board = Board({X: other("alive", pid=os.getpid(), host=HOST)})
    board.on_change = lambda current: None
    _, _runs, said = build(board, a_plan([X]), replans=[a_plan([X])], max_wait=0.05)
    assert "held by run alive" in said[0]


def test_a_result_saved_between_plan_and_claim_is_planned_again() -> None:
    record = NodeRecord(last_updated=NOW)
    states = iter([{X: record}, {X: record}])
    done, runs, _ = build(
        Board(), a_plan([X]), replans=[a_plan([], reuse=[X])], state=lambda: next(states)
    )
    assert runs == [] and done.plan.decisions[X].action == "reuse"


def test_the_state_is_read_once_per_claim_not_once_per_node() -> None:
    reads: list[int] = []

    def state() -> Mapping[str, NodeRecord]:
        reads.append(1)
        return {}

    _, runs, _ = build(Board(), a_plan([X, Y, Z]), state=state)
    assert runs == [[X, Y, Z]] and len(reads) == 1
