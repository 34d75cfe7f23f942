"""The benchmark scripts run end to end on a tiny project (their figures are not checked)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.tutorial import REPO


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run benchmarks/<script> with these arguments; it must succeed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        env={**env, "PYTHONPATH": str(REPO / "benchmarks")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_benchmark_script_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = run_benchmark(
        "run.py",
        *("--models", "10", "--repeat", "1", "--json", str(out), "--keep", str(tmp_path / "bench")),
    )
    figures = json.loads(out.read_text())
    names = {f["name"] for f in figures["figures"]}
    assert {
        "plain dbt build",
        "warm dbt parse",
        "orc dbt build, nothing changed since that build",
        "orc dbt build, nothing changed",
    } <= names
    assert all(f["median_s"] > 0 for f in figures["figures"])
    assert "unchanged orc build / warm parse" in done.stdout
    # Both unchanged builds ask for the sources' freshness and every data version they
    # need: measured, or kept while the DuckDB file is as the run before left it.
    asked = {}
    for run in ("after_build", "unchanged"):
        steps = {m["step"]: m["relations"] for m in figures["measurements"][run]}
        assert set(steps) <= {"freshness", "freshness_kept", "data_versions", "data_versions_kept"}
        asked[run] = [
            steps.get(step, 0) + steps.get(f"{step}_kept", 0)
            for step in ("freshness", "data_versions")
        ]
    assert asked["after_build"] == asked["unchanged"]
    assert asked["after_build"][1] > asked["after_build"][0] > 0


# What benchmarks/side_by_side.py measures of orc and plain dbt (dbt-orchestra needs the
# package registry to install, so the test runs without it).
SIDE_BY_SIDE = (
    "plain dbt build, cold",
    "orc: first run from empty state",
    "plain dbt build",
    "warm dbt parse",
    "orc: nothing changed",
    "orc: new rows in one source",
    "lower bound: dbt build --select exactly those",
)


def test_side_by_side_script_runs(tmp_path: Path) -> None:
    out = tmp_path / "side_by_side.json"
    done = run_benchmark(
        "side_by_side.py",
        *("--models", "10", "--repeat", "1", "--without-dbt-orchestra"),
        *("--json", str(out), "--keep", str(tmp_path / "bench")),
    )
    figures = {f["name"]: f for f in json.loads(out.read_text())["figures"]}
    assert set(figures) == set(SIDE_BY_SIDE)
    for name in SIDE_BY_SIDE:
        assert figures[name]["median_s"] > 0 and figures[name]["peak_mib"] > 0, name
        printed = re.search(rf"^{re.escape(name)}\s+(\d+\.\d+)\s", done.stdout, re.MULTILINE)
        assert printed and float(printed.group(1)) > 0, name
    assert "orc nothing changed / warm parse" in done.stdout
    assert "dbt-orchestra" not in done.stdout


def test_state_backend_benchmark_runs() -> None:
    done = run_benchmark("state_backends.py", "--records", "50", "--repeat", "1")
    assert "local file" in done.stdout
    assert "warehouse (DuckDB)" in done.stdout
