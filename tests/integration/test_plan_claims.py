"""`orc plan` shows the nodes other live runs are building; a stateful run waits for them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from orchestra_dbt_py.core.claims import Claim, dump_board, parse_board
from tests.support.tutorial import Project, full_key

FCT = "model.jaffle_tutorial.fct_orders"


def claimed_by_another_run(project: Project, minutes: float) -> Claim:
    now = datetime.now(UTC)
    claim = Claim("elsewhere01", "etl-2", 8120, "ana", now, now + timedelta(minutes=minutes))
    fct_key = full_key(json.loads(project.state_path.read_text()), FCT)  # its state key
    project.state_path.with_name("state.json.claims").write_text(dump_board({fct_key: claim}))
    return claim


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_plan_lists_live_claims_and_a_build_waits_at_most_the_maximum(built: Project) -> None:
    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    claim = claimed_by_another_run(built, minutes=10)
    table = built.orc("plan").stdout
    assert "fct_orders is being built by run elsewhere01 (ana on etl-2, pid 8120)" in table
    planned = json.loads(built.orc("plan", "--output", "json").stdout)
    assert [(c["unique_id"], c["run_id"], c["pid"]) for c in planned["claims"]] == [
        (FCT, "elsewhere01", 8120)
    ]
    waited = built.orc("--max-wait", "1", "dbt", "build")
    assert "held by run elsewhere01 (ana on etl-2, pid 8120)" in waited.stdout
    assert "still held after the maximum wait" in waited.stdout
    executed = {n["unique_id"] for n in built.plan_artifact()["nodes"] if n["status"]}
    assert FCT in executed  # built anyway, after the wait
    # The other run's claim is its own to release: it is still there.
    board = parse_board(built.state_path.with_name("state.json.claims").read_text())
    assert list(board.values()) == [claim]


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_a_corrupt_claims_board_is_named_and_left_alone(stateful: Project) -> None:
    board = stateful.state_path.with_name("state.json.claims")
    board.write_text("{oops")
    planned = stateful.orc("plan")  # the plan stands; the board is named with its fix
    assert "live claims not shown: the claims board" in planned.stdout + planned.stderr
    built = stateful.orc("dbt", "build", expect=2)
    assert built.stderr.count("\n") == 1 and "delete it when no orc run" in built.stderr
    assert board.read_text() == "{oops"
