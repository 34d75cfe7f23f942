"""orc's own work on large projects, without building anything.

    python benchmarks/scale.py --nodes 10000 --repeat 3

Prints the medians (seconds) of: the planner alone on a synthetic graph of `--nodes`
models with a full, matching state; the definition fingerprints of every node of a
generated DuckDB project of `--nodes` models and their tests (dbt parses it first,
untimed, and no query reaches the warehouse), computed and read back from the project
cache as an unchanged run reads them; and the state document of `--nodes`
records, serialised and parsed in memory (core/document.py) and written and read through
the local file backend.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from generate import Shape, generate
from measuring import command_env
from run import planner_figure
from state_backends import records

from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.graph import read_graph
from orchestra_dbt_py.dbt.project_cache import CACHE_FILE
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.state.local import LocalFileBackend

ORC = Path(sys.executable).with_name("orc")


def median_of(repeat: int, action: Callable[[], object]) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def fingerprints(root: Path, models: int, repeat: int) -> tuple[float, float, float, int]:
    """(dbt's parse, the fingerprints of every node computed, the same read back from the
    project cache) of a generated project, in seconds, and its number of nodes (models,
    their tests and the package's operations)."""
    project = generate(root / "project", Shape(models=models, sources=max(1, models // 12)))
    env = {**command_env(), "DBT_PROFILES_DIR": str(project)}
    subprocess.run(
        [str(ORC), "dbt", "deps", "--quiet"], cwd=project, env=env, check=True, capture_output=True
    )
    # orc parses as it does when run in the project, with its profile.
    os.chdir(project)
    os.environ.update(env)
    started = time.perf_counter()
    session = DbtSession(parse_command(["parse"]))
    parse = time.perf_counter() - started
    selected = list(session.manifest.nodes)
    kept = session.target_dir / CACHE_FILE

    def graph(computed: bool) -> None:
        session._cache = None  # as a new run: the project cache is read from its file
        if computed:
            kept.unlink(missing_ok=True)
        read_graph(session, selected, env)
        session.project_cache(env).save()

    computed = median_of(repeat, lambda: graph(computed=True))
    return parse, computed, median_of(repeat, lambda: graph(computed=False)), len(selected)


def state_document(root: Path, count: int, repeat: int) -> dict[str, float]:
    everything = records(count, datetime.now(UTC))
    text = dump_state(everything)
    path = root / "state.json"
    LocalFileBackend(path).update(everything)
    return {
        "serialised (dump_state)": median_of(repeat, lambda: dump_state(everything)),
        "parsed (parse_state)": median_of(repeat, lambda: parse_state(text, "bench")),
        # A new backend each time: nothing of an earlier read or write is reused.
        "read from a local file": median_of(repeat, lambda: LocalFileBackend(path).load()),
        "written to a new local file": median_of(
            repeat,
            lambda: LocalFileBackend(root / f"new-{time.monotonic_ns()}.json").update(everything),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.nodes:,} nodes, medians of {args.repeat} runs")
    planner = planner_figure(args.nodes, args.repeat)
    print(f"{'planner alone':<46} {planner.median:>8.3f} s")
    with tempfile.TemporaryDirectory(prefix="orc-scale-") as tmp:
        for name, seconds in state_document(Path(tmp), args.nodes, args.repeat).items():
            print(f"{'state document ' + name:<46} {seconds:>8.3f} s")
        parse, computed, kept, count = fingerprints(Path(tmp), args.nodes, args.repeat)
    print(f"{f'fingerprints of {count:,} nodes, computed':<46} {computed:>8.3f} s")
    print(f"{'  the same, read back from the project cache':<46} {kept:>8.3f} s")
    print(f"{'(dbt parse of that project, once)':<46} {parse:>8.3f} s")


if __name__ == "__main__":
    main()
