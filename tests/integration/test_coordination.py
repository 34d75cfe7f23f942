"""Overlapping `orc dbt build` runs (real processes, one PostgreSQL database, one shared state
file, separate checkouts) build each node once, and a killed run's claims are taken over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ORC, REPO, postgres_available

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import Shape, generate

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(), reason="needs PGHOST/PGPORT"),
]

DBT = Path(sys.executable).with_name("dbt")
SHAPE = Shape(models=24, sources=4, depth=4, fan_in=2, test_share=0.3, rows=200)


class Team:
    """One generated project, checked out once per run, sharing a schema and a state file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.schema = f"orc_co_{uuid.uuid4().hex[:8]}"
        self.state = root / "shared" / "state.json"
        self.state.parent.mkdir(parents=True)
        self.base = generate(root / "base", SHAPE, package_dir=REPO)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRA_", "DBT_"))},
            "DO_NOT_TRACK": "1",
            "SYNTHETIC_SCHEMA": self.schema,
            "SYNTHETIC_RAW_SCHEMA": f"{self.schema}_raw",
            "SYNTHETIC_THREADS": "2",
            "ORCHESTRA_STATE_FILE": str(self.state),
            "ORCHESTRA_CLAIM_LEASE_SECONDS": "20",
        }

    def orc(self, where: Path, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(ORC), *args], cwd=where, env=self.env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def checkout(self, name: str) -> Path:
        copy = self.root / name
        shutil.copytree(self.base, copy, symlinks=True, ignore=shutil.ignore_patterns("target"))
        return copy

    def start(self, where: Path, *selection: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(ORC), "dbt", "build", "--target", "postgres", *selection],
            cwd=where,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stale(self) -> set[str]:
        plan = json.loads(
            self.orc(self.base, "plan", "--output", "json", "--target", "postgres").stdout
        )
        return {n["unique_id"] for n in plan["nodes"] if n["decision"] == "build"}

    def tables(self, schema: str) -> dict[str, list[tuple[object, ...]]]:
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (schema,),
            )
            names = sorted(r[0] for r in cur.fetchall())
            found = {}
            for name in names:
                cur.execute(f'select * from "{schema}"."{name}" order by 1, 2')
                found[name] = [tuple(r) for r in cur.fetchall()]
            return found

    def plain_build(self) -> dict[str, list[tuple[object, ...]]]:
        reference = f"{self.schema}_ref"
        env = {**self.env, "SYNTHETIC_SCHEMA": reference}
        done = subprocess.run(
            [str(DBT), "build", "--target", "postgres", "--target-path", "target_ref"],
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout
        return self.tables(reference)

    def drop(self) -> None:
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            for suffix in ("", "_raw", "_ref"):
                cur.execute(f'drop schema if exists "{self.schema}{suffix}" cascade')


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    crew = Team(tmp_path)
    crew.orc(crew.base, "dbt", "deps", "--quiet")
    crew.orc(crew.base, "dbt", "run-operation", "load_sources", "--target", "postgres")
    crew.orc(crew.base, "dbt", "build", "--target", "postgres")
    yield crew
    crew.drop()


def executed(where: Path) -> set[str]:
    plan = json.loads((where / "target" / "orc_plan.json").read_text())
    return {n["unique_id"] for n in plan["nodes"] if n["status"] is not None}


SELECTIONS = [
    (),  # everything
    ("--select", "m_00000+", "m_00001+", "m_00002+"),
    ("--select", "+m_00023"),
    ("--exclude", "m_00003+"),
]


@pytest.mark.parametrize("runs", [2, 4])
def test_overlapping_runs_build_each_stale_node_once(team: Team, runs: int) -> None:
    team.orc(team.base, "dbt", "run-operation", "load_sources", "--args", "{source: all}")
    stale = team.stale()
    assert len(stale) > 10
    checkouts = [team.checkout(f"run{i}") for i in range(runs)]
    started = [team.start(where, *SELECTIONS[i]) for i, where in enumerate(checkouts)]
    outputs = [process.communicate(timeout=600)[0] for process in started]
    for process, output in zip(started, outputs, strict=True):
        assert process.returncode == 0, output
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
    team.orc(team.base, "dbt", "run-operation", "load_sources", "--args", "{source: all}")
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
    output = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, output
    assert team.tables(team.schema) | {"slow": []} == team.plain_build() | {"slow": []}
    assert team.stale() == set()
