"""What inputs found in compiled SQL (relations read by name, the clock) cost an unchanged run.

    python benchmarks/sql_inputs.py --models 300 --repeat 3

On a generated DuckDB project: the first stateful build, then `--repeat` unchanged
`orc dbt build` runs; then every fifth table model is edited to read a raw table by name
and to filter on `current_date`, built once (its plan compiles the edited models), and the
unchanged runs are timed again. Prints the medians and each run's measuring steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import Shape, generate
from measuring import command_env

ORC = Path(sys.executable).with_name("orc")
# Every fifth table model reads a raw table by name and the date.
EDIT = "\nwhere loaded_at < current_date + 1 and id in (select id from raw.src_0)\ngroup by id\n"


def orc_build(project: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(ORC), "dbt", "build"], cwd=project, env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def plan_summary(project: Path) -> str:
    plan = json.loads((project / "target" / "orc_plan.json").read_text())
    steps = ", ".join(
        f"{m['step']} {m['relations']} in {m['seconds']:.2f} s" for m in plan["measurements"]
    )
    return f"{plan['summary']['build']} built; {steps}"


def edit_models(project: Path) -> int:
    edited = 0
    for index, path in enumerate(sorted((project / "models").glob("m_*.sql"))):
        text = path.read_text()
        if index % 5 or "materialized='table'" not in text:
            continue
        path.write_text(text.replace("\ngroup by id\n", EDIT))
        edited += 1
    return edited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = command_env()
    with tempfile.TemporaryDirectory() as tmp:
        project = generate(Path(tmp) / "project", Shape(models=args.models, sources=10))
        (project / ".orchestra").mkdir()  # the state file's folder
        for step in (["deps"], ["run-operation", "load_sources"]):
            subprocess.run(
                [str(ORC), "dbt", *step], cwd=project, env=env, check=True, capture_output=True
            )
        print(f"first build: {orc_build(project, env):.2f} s ({plan_summary(project)})")
        before = [orc_build(project, env) for _ in range(args.repeat)]
        print(
            f"unchanged, no SQL inputs: {statistics.median(before):.2f} s median "
            f"({plan_summary(project)})"
        )
        edited = edit_models(project)
        after_edit = orc_build(project, env)
        print(f"after editing {edited} table models: {after_edit:.2f} s ({plan_summary(project)})")
        after = [orc_build(project, env) for _ in range(args.repeat)]
        print(
            f"unchanged, {edited} models reading raw.src_0 by name and current_date: "
            f"{statistics.median(after):.2f} s median ({plan_summary(project)})"
        )


if __name__ == "__main__":
    main()
