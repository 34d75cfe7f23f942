"""Overlapping `orc dbt build` runs (real processes, one PostgreSQL database, one shared state
file, separate checkouts) build each node once, and a killed run's claims are taken over."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from generate import Shape
from overlap import Team, executed

from tests.support.tutorial import postgres_available

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(), reason="needs PGHOST/PGPORT"),
]

SHAPE = Shape(models=24, sources=4, depth=4, fan_in=2, test_share=0.3, rows=200)


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    crew = Team(tmp_path, SHAPE)
    crew.set_up()
    yield crew
    crew.drop()


SELECTIONS = [
    (),  # everything
    ("--select", "+m_00018", "+m_00020"),
    ("--select", "+m_00023"),
    ("--exclude", "m_00003+"),
]


@pytest.mark.parametrize("runs", [2, 4])
def test_overlapping_runs_build_each_stale_node_once(team: Team, runs: int) -> None:
    team.new_rows()
    stale = team.stale()
    assert len(stale) > 10
    checkouts = [team.checkout(f"run{i}") for i in range(runs)]
    started = [team.start(where, selection=SELECTIONS[i]) for i, where in enumerate(checkouts)]
    for process, where in zip(started, checkouts, strict=True):
        assert process.wait(timeout=600) == 0, (where / "orc.log").read_text()
    counts = Counter(uid for where in checkouts for uid in executed(where))
    assert set(counts) == stale
    assert [uid for uid, n in counts.items() if n > 1] == []
    assert team.tables(team.schema) == team.plain_build()
    assert team.stale() == set()


def test_a_killed_runs_claims_are_taken_over(team: Team) -> None:
    # A slow model keeps the first run inside dbt, holding its claims, until it is killed.
    (team.base / "models" / "slow.sql").write_text(
        "select pg_sleep(600) as slept, id from {{ ref('m_00000') }}\n"
    )
    team.new_rows()
    first, second = team.checkout("first"), team.checkout("second")
    victim = team.start(first)
    claims = team.state.with_name("state.json.claims")
    deadline = time.monotonic() + 300
    while "slow" not in (claims.read_text() if claims.exists() else ""):
        assert victim.poll() is None and time.monotonic() < deadline, "never held a claim"
        time.sleep(0.2)
    time.sleep(2)  # let it build and save some nodes first
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    (first / "models" / "slow.sql").unlink()
    (second / "models" / "slow.sql").unlink()
    (team.base / "models" / "slow.sql").unlink()
    survivor = team.start(second)
    assert survivor.wait(timeout=600) == 0, (second / "orc.log").read_text()
    assert team.tables(team.schema) | {"slow": []} == team.plain_build() | {"slow": []}
    assert team.stale() == set()
