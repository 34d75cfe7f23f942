"""orc against plain dbt and dbt-orchestra, in the same run, on DuckDB or PostgreSQL.

    python benchmarks/side_by_side.py --models 300 --repeat 2 --json side_by_side.json
    PATH=$PWD/.venv/bin:$PATH scripts/with-postgres.sh \\
        .venv/bin/python benchmarks/side_by_side.py --adapter postgres --models 300 --repeat 2

On one project shape made by benchmarks/generate.py, measures wall time (median of
--repeat runs) and peak memory (max RSS of the process) of: plain `dbt build`, cold (empty
warehouse, no target/) and warm; a warm `dbt parse`; the first run from empty state, the run
with nothing changed and the run after new rows in one source, of `orc dbt build` and of
dbt-orchestra's stateful `orc dbt build`; and the lower bound, `dbt build --select` of
exactly the models and tests orc built after the new rows. Prints a table and ratios;
writes JSON.
Peak memory is that of the largest single process of the command's tree (Linux's wait4):
orc runs dbt in its own process; dbt-orchestra runs `dbt ls` and the freshness in its own
and `dbt build` as a child process, so its figure is the larger of the two, not their sum.

dbt-orchestra (1.5.0, from the package registry) is not a dependency of this project: it is
installed once into a virtual environment of its own (--dbt-orchestra-venv, reused while its
pinned versions match), with the dbt-core and adapter versions of the environment running
this script. It runs state-aware on a local JSON state file (ORCHESTRA_USE_STATEFUL=true,
ORCHESTRA_STATE_FILE, ORCHESTRA_LOCAL_RUN=true; no ORCHESTRA_API_KEY, so no hosted service).

How fairness is kept:
- Three copies of the same generated project, one each for plain dbt, orc and dbt-orchestra,
  each with its own warehouse (a DuckDB file in its copy, or a PostgreSQL database of its own
  on the same server) and, for the two orchestrators, a state file of its own: no tool sees
  another's tables, state, target/ or partial parse (dbt-orchestra edits and restores model
  files during its runs, which is one more reason for its own copy).
- The same dbt-core and adapter versions, the same threads, the same new rows (10, in the
  same source) before every "new rows" run, and the same starting point for the first runs:
  model relations dropped, target/ removed, the state emptied.
- Measurements run in rounds: each round runs every measurement once, in the same order, so
  a machine that gets busier or quieter during the run weighs on every tool alike. Set-up
  (loading rows, emptying state) is never inside a timed command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from generate import ADAPTERS, Shape, generate
from measuring import (
    Figure,
    Step,
    built_nodes,
    command_env,
    measure_rounds,
    plan_artifact,
    read_source,
    timed,
)

BIN = Path(sys.executable).parent
DBT_ORCHESTRA = "dbt-orchestra==1.5.0"
SCHEMA, RAW_SCHEMA = "synthetic", "raw"  # the generated profile's defaults on PostgreSQL


def pinned() -> list[str]:
    """dbt-orchestra with the dbt-core and adapters of this environment."""
    packages = ["dbt-core", "dbt-duckdb", "dbt-postgres"]
    return [DBT_ORCHESTRA, *(f"{p}=={version(p)}" for p in packages)]


def dbt_orchestra_env(venv: Path) -> Path:
    """The bin folder of a virtual environment holding dbt-orchestra, made once."""
    marker = venv / "orc-benchmark-pins.txt"
    wanted = "\n".join(pinned())
    if marker.exists() and marker.read_text() == wanted and (venv / "bin" / "orc").exists():
        return venv / "bin"
    print(f"installing {', '.join(pinned())} into {venv} (once)", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    done = subprocess.run([*pip, *pinned()], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"could not install {DBT_ORCHESTRA} into {venv} ({done.stderr.strip()[-500:]}); "
            "check the package registry can be reached, or pass --without-dbt-orchestra"
        )
    marker.write_text(wanted)
    return venv / "bin"


class Copy:
    """One tool's copy of the project, with its own warehouse and state."""

    def __init__(self, directory: Path, tool: str, adapter: str, bin_dir: Path) -> None:
        self.tool, self.adapter, self.bin, self.dir = tool, adapter, bin_dir, directory
        self.state = self.dir / ".orchestra" / f"{tool}_state.json"
        self.database = f"orc_bench_{tool}"
        self.duckdb = self.dir / "synthetic.duckdb"
        env = command_env()
        self.env = {
            **env,
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "DBT_PROFILES_DIR": str(self.dir),
            "SYNTHETIC_DUCKDB_PATH": str(self.duckdb),
            "SYNTHETIC_SCHEMA": SCHEMA,
            "SYNTHETIC_RAW_SCHEMA": RAW_SCHEMA,
            "ORCHESTRA_USE_STATEFUL": "false" if tool == "plain" else "true",
            "ORCHESTRA_STATE_FILE": str(self.state),
            "ORCHESTRA_LOCAL_RUN": "true",
        }
        if adapter == "postgres":
            self.env["PGDATABASE"] = self.database

    def dbt(self, *args: str) -> list[str]:
        return [str(self.bin / "dbt"), *args]

    def orc(self, *args: str) -> list[str]:
        return [str(self.bin / "orc"), "dbt", *args]

    def step(self, name: str, prepare: Callable[[], None] = lambda: None) -> Step:
        """Timing this copy's build: `dbt build`, or `orc dbt build` with its orchestrator."""
        build = (
            self.dbt("build", "--quiet") if self.tool == "plain" else self.orc("build", "--quiet")
        )
        return Step(name, build, self.dir, self.env, prepare)

    def run(self, args: list[str]) -> None:
        timed(args, self.dir, self.env)

    def set_up(self) -> None:
        """Create the warehouse, install the package, load the sources."""
        if self.adapter == "postgres":
            postgres(f'drop database if exists "{self.database}" with (force)')
            postgres(f'create database "{self.database}"')
        self.run(self.dbt("deps", "--quiet"))
        self.run(self.dbt("run-operation", "load_sources", "--quiet"))

    def clone(self, tool: str, bin_dir: Path) -> Copy:
        """A copy of this set-up project and its warehouse, for another tool."""
        shutil.rmtree(self.dir.parent / tool, ignore_errors=True)
        shutil.copytree(self.dir, self.dir.parent / tool, symlinks=True)
        copy = Copy(self.dir.parent / tool, tool, self.adapter, bin_dir)
        if self.adapter == "postgres":
            postgres(f'drop database if exists "{copy.database}" with (force)')
            postgres(f'create database "{copy.database}" template "{self.database}"')
        return copy

    def new_rows(self, source: int) -> None:
        self.run(self.dbt("run-operation", "load_sources", "--args", f"{{source: {source}}}"))

    def empty(self) -> None:
        """Back to a first run: no model relation, no target/, an empty state."""
        if self.adapter == "postgres":
            postgres(f'drop schema if exists "{SCHEMA}" cascade', self.database)
        else:
            drop_duckdb_models(self.duckdb)
        shutil.rmtree(self.dir / "target", ignore_errors=True)
        shutil.rmtree(self.state.parent, ignore_errors=True)
        self.state.parent.mkdir()  # orc creates its state file when there is none
        if self.tool == "dbt_orchestra":
            self.state.write_text('{"state": {}}')  # its README's bootstrap


def postgres(statement: str, database: str | None = None) -> None:
    """One statement outside a transaction, on the server of the PG* variables."""
    import psycopg2

    connection = psycopg2.connect(dbname=database or os.environ.get("PGDATABASE", "postgres"))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def drop_duckdb_models(path: Path) -> None:
    import duckdb

    with duckdb.connect(str(path)) as connection:
        rows = connection.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main'"
        ).fetchall()
        for name, kind in rows:
            connection.execute(f'drop {"view" if kind == "VIEW" else "table"} "main"."{name}"')


def reused(output: str) -> str:
    """dbt-orchestra's own count of the nodes it reused ("12/300 nodes reused.")."""
    match = re.search(r"(\d+)/(\d+) nodes reused", output)
    return f"{match.group(1)} of {match.group(2)} reused" if match else ""


NOTHING, NEW, FIRST = "nothing changed", "new rows in one source", "first run from empty state"
COLD, PLAIN, PARSE = "plain dbt build, cold", "plain dbt build", "warm dbt parse"
LOWER = "lower bound: dbt build --select exactly those"


def steps(copies: dict[str, Copy], source: int, first_only: bool = False) -> list[Step]:
    """One round, in order: the first runs (each from its own empty warehouse and state),
    then plain dbt warm, then each orchestrator with nothing changed and after new rows
    (unless `first_only`)."""
    plain, orc = copies["plain"], copies["orc"]
    dbto = copies.get("dbt_orchestra")

    def new_rows(copy: Copy) -> Callable[[], None]:
        return lambda: copy.new_rows(source)

    def lower_bound() -> list[str]:
        return plain.dbt("build", "--quiet", "--select", *built_nodes(plan_artifact(orc.dir)))

    first = [plain.step(COLD, plain.empty), orc.step(f"orc: {FIRST}", orc.empty)]
    warm = [
        plain.step(PLAIN),
        Step(PARSE, plain.dbt("parse", "--quiet"), plain.dir, plain.env),
        orc.step(f"orc: {NOTHING}"),
        orc.step(f"orc: {NEW}", new_rows(orc)),
        Step(LOWER, lower_bound, plain.dir, plain.env, new_rows(plain)),
    ]
    if first_only:
        return first if dbto is None else [*first, dbto.step(f"dbt-orchestra: {FIRST}", dbto.empty)]
    if dbto is None:
        return first + warm
    return [
        *first,
        dbto.step(f"dbt-orchestra: {FIRST}", dbto.empty),
        *warm,
        dbto.step(f"dbt-orchestra: {NOTHING}"),
        dbto.step(f"dbt-orchestra: {NEW}", new_rows(dbto)),
    ]


def ratios(figures: list[Figure]) -> dict[str, float]:
    """Time ratios of the medians, and memory ratios of the peaks, where both were measured."""
    times = {
        f"orc / dbt-orchestra, {k}": (f"orc: {k}", f"dbt-orchestra: {k}")
        for k in (NOTHING, NEW, FIRST)
    }
    memory = {}
    for tool in ("orc", "dbt-orchestra"):
        times[f"{tool} {NOTHING} / warm parse"] = (f"{tool}: {NOTHING}", PARSE)
        times[f"{tool} {NEW} / lower bound"] = (f"{tool}: {NEW}", LOWER)
        times[f"{tool} first run / cold plain build"] = (f"{tool}: {FIRST}", COLD)
        memory[f"{tool} peak memory, {NOTHING} / plain build's"] = (f"{tool}: {NOTHING}", PLAIN)
    by_name = {f.name: f for f in figures}
    found = {}
    for label, (a, b) in times.items():
        if a in by_name and b in by_name:
            found[label] = by_name[a].median / by_name[b].median
    for label, (a, b) in memory.items():
        if a in by_name and b in by_name:
            found[label] = by_name[a].peak_mib / by_name[b].peak_mib
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", choices=ADAPTERS, default="duckdb")
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--sources", type=int, default=None, help="default: one per 12 models")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--keep", type=Path, default=None, help="build the projects here")
    parser.add_argument(
        "--dbt-orchestra-venv",
        type=Path,
        default=None,
        help="dbt-orchestra's own virtual environment, made once (default: in --keep, "
        "else ~/.cache/orc-benchmarks)",
    )
    parser.add_argument(
        "--without-dbt-orchestra", action="store_true", help="measure orc and plain dbt only"
    )
    parser.add_argument(
        "--first-runs-only",
        action="store_true",
        help="measure the first runs from empty state and the cold plain build only",
    )
    args = parser.parse_args()
    if args.adapter == "postgres" and "PGHOST" not in os.environ:
        raise SystemExit(
            "--adapter postgres needs the PG* variables of a server: run the script under "
            "scripts/with-postgres.sh or export PGHOST, PGPORT, PGUSER and PGPASSWORD"
        )

    root = args.keep or Path(tempfile.mkdtemp(prefix="orc-side-by-side-"))
    sources = args.sources or max(1, args.models // 12)
    shape = Shape(models=args.models, sources=sources, depth=10)
    bins = {"orc": BIN}
    if not args.without_dbt_orchestra:
        cache = Path.home() / ".cache" / "orc-benchmarks"
        venv = args.dbt_orchestra_venv or (args.keep or cache) / "dbt-orchestra-venv"
        bins["dbt_orchestra"] = dbt_orchestra_env(venv.resolve())
    shutil.rmtree(root / "plain", ignore_errors=True)
    plain = Copy(generate(root / "plain", shape, adapter=args.adapter), "plain", args.adapter, BIN)
    plain.set_up()
    copies = {"plain": plain, **{t: plain.clone(t, b) for t, b in bins.items() if t != "plain"}}

    load_before = os.getloadavg()
    source = read_source(copies["orc"].dir)
    figures = measure_rounds(steps(copies, source, args.first_runs_only), args.repeat)
    load_after = os.getloadavg()
    rebuilt = len(built_nodes(plan_artifact(copies["orc"].dir), ("model",)))
    found = ratios(figures)

    versions = {p: version(p) for p in ("orchestra-dbt-py", "dbt-core", f"dbt-{args.adapter}")}
    if "dbt_orchestra" in copies:
        versions["dbt-orchestra"] = DBT_ORCHESTRA.split("==")[1]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    after = "" if args.first_runs_only else f", {rebuilt} rebuilt by orc after new rows"
    print(f"\n{args.adapter}: {args.models} models and {sources} sources{after}; {machine}")
    print(", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"{'measurement':<48} {'median s':>9} {'runs':>16} {'peak MiB':>9}  notes")
    for f in figures:
        runs = ", ".join(f"{s:.2f}" for s in f.seconds[:3])
        note = reused(f.output) if f.name.startswith("dbt-orchestra") else ""
        print(f"{f.name:<48} {f.median:>9.3f} {runs:>16} {f.peak_mib:>9.0f}  {note}")
    for label, value in found.items():
        print(f"{label:<58} {value:>6.2f}x")
    if args.json:
        document = {
            "adapter": args.adapter,
            "models": args.models,
            "sources": sources,
            "rebuilt_after_new_rows": None if args.first_runs_only else rebuilt,
            "machine": machine,
            "versions": versions,
            "figures": [
                {
                    **f.as_dict(),
                    **(
                        {"dbt_orchestra": reused(f.output)} if f.name.startswith("dbt-orch") else {}
                    ),
                }
                for f in figures
            ],
            "ratios": found,
        }
        args.json.write_text(json.dumps(document, indent=2))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
