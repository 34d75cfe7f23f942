"""The benchmark script runs end to end on a tiny project (its figures are not checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.tutorial import REPO


def test_benchmark_script_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--models",
            "10",
            "--repeat",
            "1",
            "--json",
            str(out),
            "--keep",
            str(tmp_path / "bench"),
        ],
        env={**env, "PYTHONPATH": str(REPO / "benchmarks")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    names = {f["name"] for f in figures["figures"]}
    assert {"plain dbt build", "warm dbt parse", "orc dbt build, nothing changed"} <= names
    assert all(f["median_s"] > 0 for f in figures["figures"])
    assert "unchanged orc build / warm parse" in done.stdout
    # The unchanged build measured the sources' freshness and every data version it needs.
    steps = {m["step"]: m for m in figures["measurements"]}
    assert set(steps) == {"freshness", "data_versions"}
    assert steps["data_versions"]["relations"] > steps["freshness"]["relations"] > 0


def test_state_backend_benchmark_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "state_backends.py"),
            "--records",
            "50",
            "--repeat",
            "1",
        ],
        env={**env, "PYTHONPATH": str(REPO / "benchmarks")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local file" in done.stdout
    assert "warehouse (DuckDB)" in done.stdout
