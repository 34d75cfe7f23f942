"""Durable runs: a run killed at any moment keeps what it completed, the next run resumes
from there, the state file is never half-written, and concurrent runs lose nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from generate import Shape, generate

from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.state.local import LocalFileBackend
from tests.support.tutorial import ORC, run_orc

COMPLETED = re.compile(r"OK created sql \w+ model main\.(m_\d+)")
# Seconds: each result is journalled as dbt reports it; allow for the report reaching us
# before the journal line is written.
CHECKPOINT_SLACK = 2.0
SHAPE = Shape(models=80, sources=4, depth=8, fan_in=2, test_share=0.2)


@dataclass
class Synthetic:
    dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.dir / ".orchestra" / "state.json"

    def orc(
        self, *args: str, expect: int | None = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return run_orc(args, self.dir, {**self.env, **env}, expect)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(ORC), *args],
            cwd=self.dir,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def state(self) -> dict[str, NodeRecord]:
        """The full records of the state as the next run will see it (the document and its
        journal), by unique id (keys are `<unique_id>@<relation>`)."""
        loaded = LocalFileBackend(self.state_path).load()
        return {key.partition("@")[0]: record for key, record in loaded.items() if "@" in key}

    def plan(self, target_path: str = "target") -> dict[str, Any]:
        return json.loads((self.dir / target_path / "orc_plan.json").read_text())

    def project_files(self) -> dict[str, str]:
        skip = {"target", "logs", "dbt_packages", ".orchestra"}
        return {
            str(p.relative_to(self.dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.dir.rglob("*"))
            if p.is_file()
            and p.relative_to(self.dir).parts[0] not in skip
            and not p.name.startswith(("synthetic.duckdb", "target_"))
            and not p.relative_to(self.dir).parts[0].startswith(("target_", "logs_"))
        }

    def model_rows(self, database: Path | None = None) -> dict[str, list[tuple[Any, ...]]]:
        import duckdb

        path = database or self.dir / "synthetic.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables where table_schema = 'main'"
                ).fetchall()
            ]
            return {
                n: con.execute(f"select id, value from main.{n} order by id").fetchall()
                for n in names
            }


def make_synthetic(root: Path, shape: Shape = SHAPE) -> Synthetic:
    project = Synthetic(generate(root / "synthetic", shape))
    project.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")},
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(project.dir),
        "SYNTHETIC_THREADS": "1",
    }
    project.orc("dbt", "deps", "--quiet")
    project.orc("dbt", "run-operation", "load_sources", "--quiet")
    project.orc("state", "init")
    return project


def run_until(proc: subprocess.Popen[str], completions: int) -> dict[str, float]:
    """Read dbt's output until `completions` models finished; returns when each finished."""
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        match = COMPLETED.search(line)
        if match:
            seen[f"model.synthetic.{match.group(1)}"] = time.monotonic()
            if len(seen) >= completions:
                return seen
    raise AssertionError(f"the run ended after {len(seen)} models, before {completions}")


def assert_matches_full_rebuild(project: Synthetic, tmp_path: Path) -> None:
    reference = Synthetic(
        shutil.copytree(
            project.dir,
            tmp_path / "reference",
            ignore=shutil.ignore_patterns(
                "target*", "logs*", ".orchestra", "synthetic.duckdb*", "dbt_packages"
            ),
        )
    )
    reference.env = {**project.env, "DBT_PROFILES_DIR": str(reference.dir)}
    reference.orc("dbt", "deps", "--quiet")
    reference.orc("dbt", "run-operation", "load_sources", "--quiet")
    reference.orc("dbt", "build", "--quiet", ORCHESTRA_USE_STATEFUL="false")
    assert project.model_rows() == reference.model_rows()


@pytest.mark.parametrize("kill_after", [3, 25, 60])
def test_sigkill_loses_nothing_and_the_next_run_resumes(tmp_path: Path, kill_after: int) -> None:
    project = make_synthetic(tmp_path)
    files = project.project_files()
    proc = project.start("dbt", "build")
    finished = run_until(proc, kill_after)
    killed_at = time.monotonic()
    proc.kill()
    proc.wait()

    assert project.project_files() == files
    recorded = project.state()  # valid JSON, valid document
    settled = {uid for uid, at in finished.items() if killed_at - at > CHECKPOINT_SLACK}
    lost = settled - set(recorded)
    assert not lost, f"completed more than {CHECKPOINT_SLACK}s before the kill: {sorted(lost)}"

    rerun = project.orc("dbt", "build")
    plan = project.plan()
    reused = {n["unique_id"] for n in plan["nodes"] if n["decision"] == "reuse"}
    built = {n["unique_id"] for n in plan["nodes"] if n["decision"] == "build"}
    recorded_models = {uid for uid in recorded if uid.startswith("model.")}
    views = {n["unique_id"] for n in plan["nodes"] if "view with an unchanged" in n["reason"]}
    assert recorded_models - views <= reused, rerun.stdout
    assert not (recorded_models - views) & built
    assert project.project_files() == files
    assert_matches_full_rebuild(project, tmp_path)
    print(
        f"kill after {kill_after}: {len(finished)} completed before the kill, "
        f"{len(finished.keys() & recorded.keys())} recorded, lost {len(lost)}, "
        f"reused on resume {len(recorded_models & reused)}"
    )


def test_sigterm_saves_completed_nodes_and_exits_143(tmp_path: Path) -> None:
    project = make_synthetic(tmp_path)
    proc = project.start("dbt", "build")
    finished = run_until(proc, 10)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, output
    # What the signal stopped is said as interrupted, never as failed.
    summary = [line for line in output.splitlines() if "orc: Reused " in line]
    assert len(summary) == 1 and not re.search(r"\([1-9]\d* failed", summary[0]), output
    recorded = project.state()
    assert set(finished) <= set(recorded)
    rerun_plan = (project.orc("dbt", "build"), project.plan())[1]
    reused = {n["unique_id"] for n in rerun_plan["nodes"] if n["decision"] == "reuse"}
    assert set(finished) <= reused


def test_kill_during_a_state_write_leaves_a_valid_document(tmp_path: Path) -> None:
    """A large state makes each write take a while; kill runs while a temp file is open."""
    project = make_synthetic(tmp_path, Shape(models=6, sources=1, depth=2, test_share=0))
    filler = parse_state(
        json.dumps(
            {
                "state": {
                    f"model.other.m{i}": {
                        "last_updated": "2026-01-01T00:00:00Z",
                        "checksum": "x" * 64,
                        "sources": {
                            f"source.other.raw.s{j}": "2026-01-01T00:00:00Z" for j in range(5)
                        },
                    }
                    for i in range(60000)
                }
            }
        ),
        "filler",
    )
    project.state_path.write_text(dump_state(filler))
    interrupted = 0
    for _ in range(4):
        before = project.state_path.read_bytes()
        proc = project.start("dbt", "build", "--full-refresh")
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if any(project.state_path.parent.glob(".state.json.*.tmp")):
                proc.kill()
                interrupted += 1
                break
            time.sleep(0.005)
        proc.wait()
        # Parses: the old or the new document, never a torn one; no record lost.
        after = LocalFileBackend(project.state_path).load()
        assert len(after) >= len(filler)
        assert project.state_path.read_bytes() == before or len(after) > len(filler)
    assert interrupted > 0, "no run was caught writing its state"


def test_concurrent_runs_lose_no_records(tmp_path: Path) -> None:
    """4 orc processes at once on one state file (twice the cores), each with its own
    DuckDB file (same database name) and overlapping selections."""
    project = make_synthetic(tmp_path, Shape(models=24, sources=2, depth=4, test_share=0))
    selections = [["--select", f"+m_{12 + 3 * i:05d}"] for i in range(4)]
    runs = []
    for i, selection in enumerate(selections):
        db_dir = tmp_path / f"db{i}"
        db_dir.mkdir()
        env = {"SYNTHETIC_DUCKDB_PATH": str(db_dir / "synthetic.duckdb")}
        project.orc("dbt", "run-operation", "load_sources", "--quiet", **env)
        runs.append((i, selection, env))
    procs = [
        project.start(
            "dbt", "build", *sel, "--target-path", f"target_{i}", "--log-path", f"logs_{i}", **env
        )
        for i, sel, env in runs
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), outputs
    state = project.state()
    for i, _, _ in runs:
        results = json.loads((project.dir / f"target_{i}" / "run_results.json").read_text())
        for result in results["results"]:
            if result["status"] != "success":
                continue
            record = state.get(result["unique_id"])
            assert record is not None, f"run {i} built {result['unique_id']}; it is not recorded"
            completed = max(
                datetime.fromisoformat(t["completed_at"].replace("Z", "+00:00"))
                for t in result["timing"]
                if t.get("completed_at")
            )
            assert record.last_updated >= completed.astimezone(record.last_updated.tzinfo)
