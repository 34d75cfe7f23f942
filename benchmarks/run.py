"""Side-by-side figures for orc and plain dbt on a generated DuckDB project.

    python benchmarks/run.py --models 300 --repeat 3 --json benchmarks/results.json

Measures wall time (median of --repeat runs) and peak memory (max RSS of the process) of:
plain `dbt build`; a warm `dbt parse`; in rounds, `orc dbt build` after new rows in one
source, then with nothing changed since that build (it measures every table), then with
nothing changed since that unchanged run (on DuckDB, the tables' versions are kept while
the database file is unchanged); the lower bound, `dbt build --select` of exactly the
models and tests orc built after the new rows; and the planner alone on synthetic graphs of
1,000 and 10,000 nodes. Prints a table with ratios, what measuring cost and where the time
of each orc build went (the `measurements` and `phases` of their plan documents), and
writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from generate import Shape, generate
from measuring import (
    Figure,
    Step,
    built_nodes,
    command_env,
    measure,
    measure_rounds,
    plan_artifact,
    read_source,
    timed,
)

from orchestra_dbt_py.core.graph import Node, named_relations
from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import source_version

ORC = Path(sys.executable).with_name("orc")
PLAIN, PARSE = "plain dbt build", "warm dbt parse"
LOWER = "lower bound: dbt build --select exactly those"
NEW_ROWS = "orc dbt build, new rows in one source"
AFTER_BUILD = "orc dbt build, nothing changed since that build"
UNCHANGED = "orc dbt build, nothing changed"
# The runs whose measuring and phases are printed, by the key of their plan document.
MEASURED = {"after_build": "unchanged build right after a build", "unchanged": "unchanged build"}
PHASES = {**MEASURED, "one_source": "one-source build"}


def planner_figure(size: int, repeat: int) -> Figure:
    """The pure planner on a layered graph of `size` nodes with a full, matching state."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    nodes: dict[str, Node] = {}
    state: dict[str, NodeRecord] = {}
    sources = [f"source.b.raw.s{i}" for i in range(20)]
    for uid in sources:
        nodes[uid] = Node(uid, "source")
    for i in range(size):
        uid = f"model.b.m{i}"
        parents = (sources[i % 20],) if i < 100 else (f"model.b.m{i - 100}", f"model.b.m{i // 2}")
        kind = "view" if i % 3 == 0 else "table"
        nodes[uid] = Node(uid, "model", kind, parents, f'"db"."main"."m{i}"', f"fp{i}")
    for uid in nodes:
        if uid.startswith("model."):
            node = nodes[uid]
            state[uid] = NodeRecord(
                last_updated=now,
                fingerprint=node.fingerprint,
                relation=node.relation,
                sources={p: now for p in node.parents if p.startswith("source.")},
                upstream={p: now for p in node.parents if p.startswith("model.")},
                status="success",
                parent_relations=named_relations(nodes, uid, {})
                if node.materialized == "view"
                else None,
            )
    versions = {uid: source_version(now, {"rows": "1"}) for uid in sources}
    existing = {n.relation for n in nodes.values() if n.relation}
    selected = [uid for uid in nodes if uid.startswith("model.")]
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        plan(nodes, selected, state, versions, existing, now + timedelta(hours=1))
        seconds.append(time.perf_counter() - started)
    return Figure(f"planner alone, {size:,} nodes", seconds, 0.0)


def print_phases(title: str, phases: list[dict]) -> None:
    print(f"{title} (phase, seconds, runs); {sum(p['seconds'] for p in phases):.2f} s in all")
    for p in phases:
        print(f"  {p['phase']:<46} {p['seconds']:>9.3f} {p['runs']:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument(
        "--sources", type=int, default=None, help="source tables (default: one per 12 models)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--keep", type=Path, default=None, help="build the project here")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="orc-bench-"))
    sources = args.sources or max(1, args.models // 12)
    shape = Shape(models=args.models, sources=sources, depth=10)
    project = generate(root / "project", shape)
    env = {**command_env(), "DBT_PROFILES_DIR": str(project)}
    plain = {**env, "ORCHESTRA_USE_STATEFUL": "false"}
    orc = [str(ORC), "dbt"]
    run = lambda *a: timed([*orc, *a], project, plain)  # noqa: E731 - set-up steps
    run("deps", "--quiet")
    run("run-operation", "load_sources", "--quiet")
    timed([str(ORC), "state", "init"], project, env)
    timed([*orc, "build", "--quiet"], project, env)  # the first stateful run records state
    nothing = lambda: None  # noqa: E731
    read = read_source(project)

    def new_rows() -> None:
        run("run-operation", "load_sources", "--args", f"{{source: {read}}}", "--quiet")

    build = [*orc, "build", "--quiet"]
    figures = [
        measure(PLAIN, args.repeat, nothing, build, project, plain),
        measure(PARSE, args.repeat, nothing, [*orc, "parse", "--quiet"], project, plain),
    ]
    # In rounds: new rows and the build they need, the first run after that build (which
    # measures every table), and a run after an unchanged run (on DuckDB, the tables'
    # versions are kept while the database file is unchanged).
    artifacts: dict[str, dict] = {}

    def keep_artifact(name: str) -> Callable[[], None]:
        return lambda: artifacts.__setitem__(name, plan_artifact(project))

    figures += measure_rounds(
        [
            Step(NEW_ROWS, build, project, env, new_rows),
            Step(AFTER_BUILD, build, project, env, keep_artifact("one_source")),
            Step(UNCHANGED, build, project, env, keep_artifact("after_build")),
        ],
        args.repeat,
    )
    artifacts["unchanged"] = plan_artifact(project)
    needed = built_nodes(artifacts["one_source"])
    rebuilt = len(built_nodes(artifacts["one_source"], ("model",)))
    if needed:
        figures.append(
            measure(
                LOWER,
                args.repeat,
                new_rows,
                [*build, "--select", *needed],
                project,
                plain,
            )
        )
    figures += [planner_figure(1_000, args.repeat), planner_figure(10_000, args.repeat)]
    measurements = {k: list(artifacts[k].get("measurements", [])) for k in MEASURED}
    phases = {k: list(artifacts[k].get("phases", [])) for k in artifacts}

    by_name = {f.name: f for f in figures}

    def ratio(a: str, b: str, memory: bool = False) -> float:
        if memory:
            return by_name[a].peak_mib / by_name[b].peak_mib
        return by_name[a].median / by_name[b].median

    ratios = {
        "unchanged orc build / warm parse": ratio(UNCHANGED, PARSE),
        "unchanged, right after a build / warm parse": ratio(AFTER_BUILD, PARSE),
        "one-source orc build / lower bound": ratio(NEW_ROWS, LOWER),
        "unchanged orc build's peak memory / plain build's": ratio(UNCHANGED, PLAIN, True),
        "right after a build, peak memory / plain build's": ratio(AFTER_BUILD, PLAIN, True),
        "one-source build's peak memory / plain build's": ratio(NEW_ROWS, PLAIN, True),
    }
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n{args.models} models and {sources} sources, {rebuilt} rebuilt after new")
    print(f"rows; {machine}")
    print(f"{'measurement':<52} {'median s':>9} {'runs':>22} {'peak MiB':>9}")
    for f in figures:
        runs = ", ".join(f"{s:.2f}" for s in f.seconds[:4])
        peak = f"{f.peak_mib:.0f}" if f.peak_mib else "-"
        print(f"{f.name:<52} {f.median:>9.3f} {runs:>22} {peak:>9}")
    for name, value in ratios.items():
        print(f"{name:<52} {value:>9.2f}x")
    for key, title in MEASURED.items():
        print(f"measuring in the {title} (step, relations, seconds)")
        for m in measurements[key]:
            print(f"  {m['step']:<46} {m['relations']:>5} {m['seconds']:>9.3f}")
    for key, title in PHASES.items():
        print_phases(f"where the {title}'s time went", phases[key])
    if args.json:
        document = {
            "models": args.models,
            "sources": sources,
            "measurements": measurements,
            "phases": phases,
            "rebuilt_after_new_rows": rebuilt,
            "machine": machine,
            "figures": [f.as_dict() for f in figures],
            "ratios": ratios,
        }
        args.json.write_text(json.dumps(document, indent=2))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
