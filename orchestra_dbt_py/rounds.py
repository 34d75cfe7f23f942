"""Building the planned nodes when other runs share the state: claim what no live run holds,
build it, release it once its records are saved, then wait for the rest and plan it again
(another run's result is reused when it covers the data this run needs).

Without coordination (no claims on this backend, or `--no-wait`) this is one round: dbt runs
once on every node to build, unless a node to build writes rows elsewhere in its hooks
(dbt/hook_writes.py): it is built first, with what it needs, and the rest is planned again
on what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from orchestra_dbt_py.coordination import Coordinator
from orchestra_dbt_py.core.claims import Claim
from orchestra_dbt_py.core.graph import Node, descendants_within
from orchestra_dbt_py.core.planner import Decision, Plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.phases import Phases
from orchestra_dbt_py.report.plan import describe_seconds

__all__ = ["Builder", "Rounds", "build_in_rounds"]


class Builder(Protocol):
    """What building in rounds asks of the run it serves (`building.StatefulBuild`)."""

    def run(self, node_ids: Sequence[str], only: bool) -> tuple[int, bool]:
        """Run dbt on these nodes and save their records; (dbt's exit code, whether the
        run was interrupted). `only`: this is the command's one dbt invocation."""
        ...

    def load_state(self) -> Mapping[str, NodeRecord]:
        """The state as it is now."""
        ...

    def replan(self) -> tuple[Plan, Mapping[str, NodeRecord]]:
        """The selection planned again on fresh state and measurements."""
        ...

    def run_first(self, pending: Sequence[str]) -> tuple[list[str], bool]:
        """Of `pending`, what to build now, and whether what it writes makes the run plan
        again after it (else all of `pending`, False)."""
        ...


@dataclass
class Rounds:
    """What building took: dbt's exit code, the plan as it finally stood, the nodes
    this run executed, and whether a signal stopped it."""

    code: int = 0
    plan: Plan = field(default_factory=Plan)
    executed: set[str] = field(default_factory=set)
    interrupted: bool = False


def build_in_rounds(
    nodes: Mapping[str, Node],
    planned: Plan,
    planned_state: Mapping[str, NodeRecord],
    builder: Builder,
    *,
    coordinator: Coordinator | None,
    max_wait_seconds: float,
    say: Callable[[str], None],
    phases: Phases,
) -> Rounds:
    """Build `planned`'s nodes (planned on `planned_state`) through `builder`; claiming
    and waiting add to `phases`."""
    done = Rounds(plan=planned)
    state = planned_state
    pending = planned.ids("build")
    below = descendants_within(nodes, list(nodes)) if coordinator is not None else {}
    while pending:
        blocked: dict[str, Claim] = {}
        first, again = builder.run_first(pending)
        last = not again
        if coordinator is None:
            held = list(first)
        else:
            with phases.timed("claims"):
                held, blocked = coordinator.claim(first, below)
                now = builder.load_state()
            changed = [uid for uid in held if now.get(uid) != state.get(uid)]
            if changed:
                # Another run saved a result between this run's plan and its claim.
                coordinator.release(held)
                done.plan, state = _replanned(done, builder)
                pending = [uid for uid in done.plan.ids("build") if uid not in done.executed]
                continue
        if held:
            only = last and not blocked and not done.executed
            code, done.interrupted = builder.run(held, only=only)
            if coordinator is not None:
                coordinator.release(held)
            done.executed.update(held)
            done.code = max(done.code, code)
            if done.interrupted:
                return done
        if blocked:
            assert coordinator is not None
            with phases.timed("waiting"):
                waited = coordinator.wait(blocked, max_wait_seconds)
            say(_describe_wait(nodes, blocked, waited.seconds))
            if waited.still_held:
                names = ", ".join(nodes[uid].label for uid in sorted(waited.still_held))
                say(
                    f"still held after the maximum wait ({describe_seconds(max_wait_seconds)}): "
                    f"building {names} without waiting further"
                )
                coordinator = None
        elif last:
            return done
        done.plan, state = _replanned(done, builder, blocked)
        pending = [uid for uid in done.plan.ids("build") if uid not in done.executed]
    return done


def _replanned(
    done: Rounds,
    builder: Builder,
    waited_for: Mapping[str, Claim] | None = None,
) -> tuple[Plan, Mapping[str, NodeRecord]]:
    """The new plan, keeping the decisions of the nodes this run already ran; a node another
    run built while this one waited says so in its reason."""
    fresh, state = builder.replan()
    decisions: dict[str, Decision] = {}
    for uid, decision in fresh.decisions.items():
        if uid in done.executed:
            decisions[uid] = done.plan.decisions.get(uid, decision)
        elif waited_for and uid in waited_for and decision.action == "reuse":
            holder = waited_for[uid].label
            decisions[uid] = replace(decision, reason=f"built by {holder}: {decision.reason}")
        else:
            decisions[uid] = decision
    return replace(fresh, decisions=decisions), state


def _describe_wait(nodes: Mapping[str, Node], blocked: Mapping[str, Claim], seconds: float) -> str:
    by_run: dict[str, list[str]] = {}
    for uid, claim in sorted(blocked.items()):
        by_run.setdefault(claim.label, []).append(nodes[uid].label)
    held = "; ".join(
        f"{', '.join(names[:5])}{f' and {len(names) - 5} more' if len(names) > 5 else ''} "
        f"held by {label}"
        for label, names in by_run.items()
    )
    return f"waited {describe_seconds(seconds)} for other runs: {held}"
