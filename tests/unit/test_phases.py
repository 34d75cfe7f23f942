"""Where a run's time goes: the phases recorder (phases.py) and the `phases` list of the
plan document that `target/orc_plan.json` and `orc plan --output json` share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.phases import Phases
from orchestra_dbt_py.report.plan import plan_document
from tests.support.planner_graph import FCT, NOW, good_state, graph


def ticking(*readings: float) -> Iterator[float]:
    return iter(readings)


def test_each_phase_is_timed_in_the_order_it_first_ran_and_a_phase_run_again_adds_up() -> None:
    clock = ticking(0.0, 1.5, 2.0, 2.25, 3.0, 4.0)
    phases = Phases(clock=lambda: next(clock))
    with phases.timed("parse"):
        pass
    with phases.timed("planning"):
        pass
    with phases.timed("parse"):
        pass
    assert phases.document() == [
        {"phase": "parse", "seconds": 2.5, "runs": 2},
        {"phase": "planning", "seconds": 0.25, "runs": 1},
    ]
    assert phases.seconds("parse") == 2.5 and phases.seconds("dbt_build") == 0.0


def test_a_phase_that_raises_is_still_timed() -> None:
    clock = ticking(10.0, 10.75)
    phases = Phases(clock=lambda: next(clock))
    with pytest.raises(RuntimeError), phases.timed("dbt_build"):
        raise RuntimeError("dbt stopped")
    assert phases.document() == [{"phase": "dbt_build", "seconds": 0.75, "runs": 1}]


def test_the_plan_document_lists_the_phases_given_and_an_empty_list_without_them() -> None:
    nodes = graph()
    existing = {n.relation for n in nodes.values() if n.relation}
    decided = plan(nodes, {FCT}, good_state(nodes), {}, existing, NOW)
    clock = ticking(0.0, 0.1234)
    phases = Phases(clock=lambda: next(clock))
    with phases.timed("fingerprints"):
        pass
    document = plan_document([], decided, nodes, {}, 0.0, phases=phases.document())
    assert document["phases"] == [{"phase": "fingerprints", "seconds": 0.123, "runs": 1}]
    assert plan_document([], decided, nodes, {}, 0.0)["phases"] == []
