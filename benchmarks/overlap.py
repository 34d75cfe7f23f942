"""Overlapping `orc dbt build` runs on one PostgreSQL database and one shared state file, each
from its own checkout of a generated project: with and without coordination (claims).

    scripts/with-postgres.sh python benchmarks/overlap.py --models 300

Prints, for 1, 2 and 4 overlapping runs after new rows in every source, the wall time until
all runs finished and the total number of node executions, with claims (the default) and
with `--no-wait` (no coordination); and the cost of claims to a single uncontended run
(median of --repeat). tests/integration/test_coordination.py uses `Team` as its harness.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from generate import Shape, generate
from measuring import command_env

REPO = Path(__file__).resolve().parents[1]
ORC = Path(sys.executable).with_name("orc")
DBT = Path(sys.executable).with_name("dbt")
Rows = dict[str, list[tuple[object, ...]]]


class Team:
    """One generated project, checked out once per run, sharing a schema and a state file."""

    def __init__(self, root: Path, shape: Shape) -> None:
        self.root = root
        self.schema = f"orc_co_{uuid.uuid4().hex[:8]}"
        self.state = root / "shared" / "state.json"
        self.state.parent.mkdir(parents=True)
        self.base = generate(root / "base", shape, package_dir=REPO)
        self.env = {
            **command_env(drop=("ORCHESTRA_", "DBT_")),
            "SYNTHETIC_SCHEMA": self.schema,
            "SYNTHETIC_RAW_SCHEMA": f"{self.schema}_raw",
            "SYNTHETIC_THREADS": "4",
            "ORCHESTRA_STATE_FILE": str(self.state),
            "ORCHESTRA_CLAIM_LEASE_SECONDS": "20",
        }

    def orc(self, where: Path, *args: str) -> str:
        done = subprocess.run(
            [str(ORC), *args], cwd=where, env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"orc {' '.join(args)} exited {done.returncode}:\n{done.stdout}")
        return done.stdout

    def set_up(self) -> None:
        """Install the package, load the sources and record a first full build."""
        self.orc(self.base, "dbt", "deps", "--quiet")
        self.new_rows(everything=True)
        self.orc(self.base, "dbt", "build", "--target", "postgres", "--quiet")

    def new_rows(self, everything: bool = False) -> None:
        args = [] if everything else ["--args", "{source: all}"]
        self.orc(self.base, "dbt", "run-operation", "load_sources", "--target", "postgres", *args)

    def checkout(self, name: str) -> Path:
        copy = self.root / name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.base, copy, symlinks=True, ignore=shutil.ignore_patterns("target"))
        return copy

    def start(
        self, where: Path, *args: str, selection: tuple[str, ...] = ()
    ) -> subprocess.Popen[str]:
        """Start a build whose output goes to `orc.log` in its checkout (a pipe nobody reads
        while waiting for another process would stop it, holding its claims)."""
        with (where / "orc.log").open("w") as log:
            return subprocess.Popen(
                [str(ORC), *args, "dbt", "build", "--target", "postgres", *selection],
                cwd=where,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def overlap(self, runs: int, *args: str) -> tuple[float, Counter[str], list[int]]:
        """Start `runs` builds together: (wall seconds, executions per node, exit codes).
        Uncoordinated runs can fail: one drops a view while another reads it."""
        checkouts = [self.checkout(f"run{i}") for i in range(runs)]
        started = time.perf_counter()
        processes = [self.start(where, *args) for where in checkouts]
        for process in processes:
            process.wait()
        seconds = time.perf_counter() - started
        for process, where in zip(processes, checkouts, strict=True):
            if process.returncode not in (0, 1):  # 1: a node failed, as dbt says
                output = (where / "orc.log").read_text()
                raise RuntimeError(f"a run exited {process.returncode}:\n{output}")
        counts = Counter(uid for where in checkouts for uid in executed(where))
        return seconds, counts, [process.returncode for process in processes]

    def stale(self) -> set[str]:
        plan = json.loads(self.orc(self.base, "plan", "--output", "json", "--target", "postgres"))
        return {n["unique_id"] for n in plan["nodes"] if n["decision"] == "build"}

    def tables(self, schema: str) -> Rows:
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            cur.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (schema,),
            )
            found: Rows = {}
            for (name,) in sorted(cur.fetchall()):
                cur.execute(f'select * from "{schema}"."{name}" order by 1, 2')
                found[name] = [tuple(r) for r in cur.fetchall()]
            return found

    def plain_build(self) -> Rows:
        """Every relation as a plain full `dbt build` makes it, from the same sources."""
        reference = f"{self.schema}_ref"
        done = subprocess.run(
            [str(DBT), "build", "--target", "postgres", "--target-path", "target_ref"],
            cwd=self.base,
            env={**self.env, "SYNTHETIC_SCHEMA": reference},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stdout)
        return self.tables(reference)

    def drop(self) -> None:
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            for suffix in ("", "_raw", "_ref"):
                cur.execute(f'drop schema if exists "{self.schema}{suffix}" cascade')


def executed(where: Path) -> set[str]:
    """The nodes dbt executed in the last orc run of this checkout."""
    plan = json.loads((where / "target" / "orc_plan.json").read_text())
    return {n["unique_id"] for n in plan["nodes"] if n["status"] is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shape = Shape(models=args.models, sources=max(1, args.models // 30), depth=10, rows=200)
    team = Team(Path(tempfile.mkdtemp(prefix="orc-overlap-")), shape)
    try:
        team.set_up()
        print(f"{args.models} models on PostgreSQL; new rows in every source before each line")
        print(
            f"{'runs':>4}  {'coordination':<12}  {'wall s':>7}  {'executions':>10}  stale  failed"
        )
        for runs in (1, 2, 4):
            for flags, name in (((), "claims"), (("--no-wait",), "none")):
                team.new_rows()
                stale = len(team.stale())
                seconds, counts, codes = team.overlap(runs, *flags)
                total, failed = sum(counts.values()), sum(1 for code in codes if code)
                print(f"{runs:>4}  {name:<12}  {seconds:>7.1f}  {total:>10}  {stale:>5}  {failed}")
        single = {"claims": [], "none": []}
        for _ in range(args.repeat):
            for flags, name in (((), "claims"), (("--no-wait",), "none")):
                team.new_rows()
                single[name].append(team.overlap(1, *flags)[0])
        with_claims, without = (statistics.median(single[k]) for k in ("claims", "none"))
        print(
            f"single uncontended run, median of {args.repeat}: {with_claims:.1f} s with claims, "
            f"{without:.1f} s without ({(with_claims / without - 1) * 100:+.1f} %)"
        )
    finally:
        team.drop()
        shutil.rmtree(team.root, ignore_errors=True)


if __name__ == "__main__":
    main()
