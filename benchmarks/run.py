"""Side-by-side figures for orc and plain dbt on a generated DuckDB project.

    python benchmarks/run.py --models 300 --repeat 3 --json benchmarks/results.json

Measures wall time (median of --repeat runs) and peak memory (max RSS of the process) of:
plain `dbt build`; `orc dbt build` with nothing changed; `orc dbt build` after new rows
in one source; the lower bound, `dbt build --select` of exactly the nodes that needed
building; a warm `dbt parse`; and the planner alone on synthetic graphs of 1,000 and
10,000 nodes. Prints a table with ratios, where the time of the unchanged and of the
one-source build went (the `phases` of their plan documents), and writes the figures as JSON.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from generate import Shape, generate
from measuring import Figure, built_models, measure, plan_artifact, read_source, timed

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import source_version

ORC = Path(sys.executable).with_name("orc")


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
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")},
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(project),
    }
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

    figures = [
        measure(
            "plain dbt build", args.repeat, nothing, [*orc, "build", "--quiet"], project, plain
        ),
        measure("warm dbt parse", args.repeat, nothing, [*orc, "parse", "--quiet"], project, plain),
        measure(
            "orc dbt build, nothing changed",
            args.repeat,
            nothing,
            [*orc, "build", "--quiet"],
            project,
            env,
        ),
        measure(
            "orc dbt build, new rows in one source",
            args.repeat,
            new_rows,
            [*orc, "build", "--quiet"],
            project,
            env,
        ),
    ]
    one_source_phases = list(plan_artifact(project).get("phases", []))
    needed_models = built_models(project)
    if needed_models:
        figures.append(
            measure(
                "lower bound: dbt build --select exactly those",
                args.repeat,
                new_rows,
                [*orc, "build", "--quiet", "--select", *needed_models],
                project,
                plain,
            )
        )
    figures += [planner_figure(1_000, args.repeat), planner_figure(10_000, args.repeat)]
    # What measuring costs in an unchanged orc build (the figures above time it in full).
    timed([*orc, "build", "--quiet"], project, env)  # catch up with the last new rows
    timed([*orc, "build", "--quiet"], project, env)
    unchanged = plan_artifact(project)
    measurements = list(unchanged.get("measurements", []))
    unchanged_phases = list(unchanged.get("phases", []))

    by_name = {f.name: f for f in figures}
    ratios = {
        "unchanged orc build / warm parse": by_name["orc dbt build, nothing changed"].median
        / by_name["warm dbt parse"].median,
        "one-source orc build / lower bound": by_name[
            "orc dbt build, new rows in one source"
        ].median
        / by_name["lower bound: dbt build --select exactly those"].median,
        "orc peak memory / plain dbt build's": by_name[
            "orc dbt build, new rows in one source"
        ].peak_mib
        / by_name["plain dbt build"].peak_mib,
    }
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\n{args.models} models and {sources} sources, {len(needed_models)} rebuilt after new")
    print(f"rows; {machine}")
    print(f"{'measurement':<48} {'median s':>9} {'runs':>22} {'peak MiB':>9}")
    for f in figures:
        runs = ", ".join(f"{s:.2f}" for s in f.seconds[:4])
        peak = f"{f.peak_mib:.0f}" if f.peak_mib else "-"
        print(f"{f.name:<48} {f.median:>9.3f} {runs:>22} {peak:>9}")
    for name, value in ratios.items():
        print(f"{name:<48} {value:>9.2f}x")
    print("measuring in the unchanged orc build (step, relations, seconds)")
    for m in measurements:
        print(f"  {m['step']:<46} {m['relations']:>5} {m['seconds']:>9.3f}")
    print_phases("where the unchanged orc build's time went", unchanged_phases)
    print_phases("where the one-source orc build's time went", one_source_phases)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "models": args.models,
                    "sources": sources,
                    "measurements": measurements,
                    "phases": {"unchanged": unchanged_phases, "one_source": one_source_phases},
                    "rebuilt_after_new_rows": len(needed_models),
                    "machine": machine,
                    "figures": [
                        {
                            "name": f.name,
                            "median_s": f.median,
                            "runs_s": f.seconds,
                            "peak_mib": f.peak_mib,
                        }
                        for f in figures
                    ],
                    "ratios": ratios,
                },
                indent=2,
            )
        )
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
