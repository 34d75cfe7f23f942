"""Environments: a production target and a development target sharing one state file.

    python benchmarks/environments.py --models 300

On a generated DuckDB project whose profile has a `prod` output and a `dev` output (the
same file, schemas `main` and `dev`; `dev` defers to `prod` by default), in order:

1. production is built (`orc dbt build --target prod`), and its artifacts are kept as
   dbt's `--state` for the comparison below;
2. a pull request edits one table model in the middle of the graph; `orc dbt build
   --target dev` next to a plain full build of the same target and to
   `dbt build --select state:modified+ --defer --state <prod artifacts>`;
3. new rows land in one source; the dev run again;
4. back to production (the edit reverted): `orc dbt build --target prod`.

Each step prints what `orc` built and cloned, the wall time, and whether every model of
the target equals the plain full build's; dbt's own runs are in schemas of their own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from generate import Shape, generate
from measuring import command_env

ORC = Path(sys.executable).with_name("orc")
_PROFILE = """\
synthetic:
  target: prod
  outputs:
{outputs}
"""
_OUTPUT = """\
    {name}:
      type: duckdb
      path: synthetic.duckdb
      schema: {schema}
      threads: 4
"""
# Outputs: orc's two targets, and one schema per plain dbt comparison.
SCHEMAS = {"prod": "main", "dev": "dev", "full": "dev_full", "slim": "dev_slim"}


def run(project: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(ORC), "dbt", *args], cwd=project, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"orc dbt {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def decisions(project: Path) -> dict[str, int]:
    """How many models, seeds and snapshots orc built, cloned and reused; views apart (a
    view costs the warehouse nothing to create)."""
    plan = json.loads((project / "target" / "orc_plan.json").read_text())
    manifest = json.loads((project / "target" / "manifest.json").read_text())["nodes"]
    counted: dict[str, int] = {}
    for node in plan["nodes"]:
        if node["resource_type"] in {"model", "seed", "snapshot"}:
            view = manifest[node["unique_id"]]["config"]["materialized"] == "view"
            what = f"{node['decision']}{' (views)' if view else ''}"
            counted[what] = counted.get(what, 0) + 1
    return counted


def executed(project: Path) -> int:
    """Models, seeds and snapshots dbt ran in the last invocation (run_results.json)."""
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    return sum(
        1
        for r in results
        if r["unique_id"].split(".")[0] in {"model", "seed", "snapshot"}
        and r["status"] in {"success", "error"}
    )


def differing(project: Path, schema: str, reference: str) -> list[str]:
    """The models whose table in `schema` differs from the one in `reference`."""
    models = sorted(p.stem for p in (project / "models").glob("m_*.sql"))
    with duckdb.connect(str(project / "synthetic.duckdb"), read_only=True) as con:
        found = []
        for model in models:
            a, b = f"{schema}.{model}", f"{reference}.{model}"
            query = (
                f"select count(*) from ((from {a} except all from {b})"
                f" union all (from {b} except all from {a}))"
            )
            if con.execute(query).fetchone() != (0,):
                found.append(model)
        return found


def downstream(project: Path, model: str) -> int:
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    children = manifest["child_map"]
    seen, todo = set(), [f"model.synthetic.{model}"]
    while todo:
        uid = todo.pop()
        for child in children.get(uid, []):
            if child.startswith("model.") and child not in seen:
                seen.add(child)
                todo.append(child)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--keep", type=Path, default=None, help="build the project here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="orc-env-bench-"))
    shape = Shape(models=args.models, sources=max(1, args.models // 12), depth=10)
    project = generate(root / "project", shape)
    outputs = "".join(_OUTPUT.format(name=n, schema=s) for n, s in SCHEMAS.items())
    (project / "profiles.yml").write_text(_PROFILE.format(outputs=outputs))
    env = {**command_env(), "DBT_PROFILES_DIR": str(project)}
    plain = {**env, "ORCHESTRA_USE_STATEFUL": "false"}
    run(project, plain, "deps", "--quiet")
    run(project, plain, "run-operation", "load_sources", "--quiet")
    rows: list[tuple[str, str, float, str]] = []

    def orc_step(label: str, target: str) -> float:
        """One orc run, then a plain full build of the same code (schema dev_full) to
        compare every model with; returns the plain build's seconds."""
        seconds = run(project, env, "build", "--target", target, "--quiet")
        counted = decisions(project)
        counts = ", ".join(f"{n} {d}" for d, n in sorted(counted.items()))
        full = run(project, plain, "build", "--target", "full", "--quiet")
        same = differing(project, SCHEMAS[target], SCHEMAS["full"])
        check = f"DIFFERS from a full build: {same}" if same else "equals a full build"
        rows.append((label, f"orc ({counts})", seconds, check))
        return full

    orc_step("production built", "prod")
    artifacts = root / "prod_artifacts"
    shutil.copytree(project / "target", artifacts, dirs_exist_ok=True)

    tables = sorted(
        p for p in (project / "models").glob("m_*.sql") if "materialized='table'" in p.read_text()
    )
    edited = tables[len(tables) // 2]
    original = edited.read_text()
    edited.write_text(original.replace("\ngroup by id\n", "\nwhere value > 0\ngroup by id\n"))
    reach = downstream(project, edited.stem)
    full = orc_step(f"pull request edits {edited.stem} ({reach} models downstream)", "dev")
    rows.append(("", f"plain dbt build, full ({executed(project)} run)", full, ""))
    seconds = run(
        project, plain, "build", "--target", "slim", "--quiet",
        "--select", "state:modified+", "--defer", "--state", str(artifacts),
    )  # fmt: skip
    rows.append(("", f"dbt build state:modified+ --defer ({executed(project)} run)", seconds, ""))

    read = sorted(p.stem for p in (project / "models").glob("m_*.sql"))[0]
    source = json.loads((project / "target" / "manifest.json").read_text())
    parents = source["nodes"][f"model.synthetic.{read}"]["depends_on"]["nodes"]
    number = parents[0].rsplit("_", 1)[-1]
    run(project, plain, "run-operation", "load_sources", "--args", f"{{source: {number}}}")
    orc_step(f"new rows in raw.src_{number}, dev again", "dev")
    edited.write_text(original)
    orc_step("back to production (edit not merged)", "prod")

    print(f"\n{args.models} models, {shape.sources} sources; DuckDB, one state file")
    print(f"{'step':<58} {'what ran':<60} {'s':>7}  check")
    for label, what, seconds, check in rows:
        print(f"{label:<58} {what:<60} {seconds:>7.2f}  {check}")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
