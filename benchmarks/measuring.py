"""Timing helpers the benchmark scripts share: wall time and peak memory of a command, a
median over repeated runs, and what the generated project and orc's plan document tell."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def command_env(drop: tuple[str, ...] = ("ORCHESTRA_",)) -> dict[str, str]:
    """This process's environment for the commands measured: without the variables starting
    with `drop` (orc's settings), without telemetry, and with Python's bytecode kept, as an
    installed package has it (pip compiles it at install). Where PYTHONDONTWRITEBYTECODE is
    set, every command would otherwise compile dbt again: about 1.4 s of each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(sys.prefix) / "pycache"))
    return {**env, "DO_NOT_TRACK": "1"}


@dataclass
class Figure:
    name: str
    seconds: list[float]
    peak_mib: float
    output: str = field(default="", repr=False)  # what the last run printed

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self) -> dict[str, object]:
        """The figure as the scripts write it to their JSON."""
        return {
            "name": self.name,
            "median_s": self.median,
            "runs_s": self.seconds,
            "peak_mib": self.peak_mib,
        }


@dataclass
class Step:
    """One command to time; `args` may be a function, for a command known only once an
    earlier step has run (the lower bound selects what orc built)."""

    name: str
    args: list[str] | Callable[[], list[str]]
    cwd: Path
    env: dict[str, str]
    prepare: Callable[[], None] = lambda: None


def timed_output(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; its wall time in seconds, its peak RSS in MiB and what it printed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{output.decode()[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, output.decode(errors="replace")


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run a command; its wall time in seconds and its peak RSS in MiB."""
    elapsed, peak, _ = timed_output(args, cwd, env)
    return elapsed, peak


def measure_rounds(steps: Sequence[Step], repeat: int) -> list[Figure]:
    """Each step `repeat` times, in rounds: every round runs each step once, in order, so
    that a machine getting busier or quieter weighs on every step alike."""
    figures = [Figure(step.name, [], 0.0) for step in steps]
    for _ in range(repeat):
        for step, figure in zip(steps, figures, strict=True):
            step.prepare()
            args = step.args() if callable(step.args) else step.args
            elapsed, peak, figure.output = timed_output(args, step.cwd, step.env)
            figure.seconds.append(elapsed)
            figure.peak_mib = max(figure.peak_mib, peak)
    return figures


def measure(
    name: str,
    repeat: int,
    prepare: Callable[[], None],
    args: list[str],
    cwd: Path,
    env: dict[str, str],
) -> Figure:
    return measure_rounds([Step(name, args, cwd, env, prepare)], repeat)[0]


def read_source(project: Path) -> int:
    """The number of a source some model reads (with many sources, not every one is)."""
    for path in sorted((project / "models").glob("*.sql")):
        match = re.search(r"source\('raw', 'src_(\d+)'\)", path.read_text())
        if match:
            return int(match.group(1))
    raise SystemExit("no model of the generated project reads a source")


def plan_artifact(project: Path) -> dict:
    """The plan document of the last orc build: its `measurements` (freshness sends one
    query per source with a loaded_at; data_versions is one macro call, whose queries per
    warehouse tests/unit/test_data_version_sql.py counts) and its `phases`."""
    return dict(json.loads((project / "target" / "orc_plan.json").read_text()))


def built_nodes(doc: dict, kinds: tuple[str, ...] = ("model", "test")) -> list[str]:
    """The names (as `--select` takes them) of the nodes of these kinds an orc build (its
    plan document) decided to build. Models and tests are exactly what a plain
    `dbt build --select` must run to do the same work: a test of a view orc reuses runs
    when a table the view reads was rebuilt, and selecting models alone misses it."""
    names = []
    for node in doc["nodes"]:
        kind, _, name = node["unique_id"].split(".")[:3]
        if node["decision"] == "build" and kind in kinds:
            names.append(name)
    return names
