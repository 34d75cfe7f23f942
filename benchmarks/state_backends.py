"""Save and load times of the state backends that run here, for states of a given size.

    python benchmarks/state_backends.py --records 3000 --repeat 3

For the local file and the warehouse table (DuckDB, through a generated dbt project and the
package's macros, as `orc` writes it): the first save of all records, a full load, and a
checkpoint of 20 changed records into the full state. Prints medians in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from generate import Shape, generate

from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.state.backend import StateBackend
from orchestra_dbt_py.state.local import LocalFileBackend


def records(count: int, moment: datetime) -> dict[str, NodeRecord]:
    return {
        f"model.synthetic.m{i:05d}": NodeRecord(
            last_updated=moment + timedelta(seconds=i),
            checksum="c" * 64,
            fingerprint="f" * 64,
            relation=f'"synthetic"."main"."m{i:05d}"',
            sources={"source.synthetic.raw.s0": moment},
            upstream={f"model.synthetic.m{i - 1:05d}": moment} if i else {},
            status="success",
            execution_time=0.5,
        )
        for i in range(count)
    }


def timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def measure(name: str, make: Callable[[int], StateBackend], count: int, repeat: int) -> None:
    first, load, checkpoint = [], [], []
    for attempt in range(repeat):
        backend = make(attempt)
        moment = datetime.now(UTC)
        everything = records(count, moment)
        changed = {
            key: NodeRecord(last_updated=moment + timedelta(days=1), fingerprint="g" * 64)
            for key in list(everything)[:20]
        }
        first.append(timed(backend.update, everything))
        load.append(timed(backend.load))
        checkpoint.append(timed(backend.update, changed))
        assert len(backend.load()) == count
    print(
        f"{name:<22} first save {statistics.median(first):6.2f} s   "
        f"load {statistics.median(load):6.2f} s   "
        f"checkpoint of 20 {statistics.median(checkpoint):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory(prefix="orc-state-bench-") as scratch:
        root = Path(scratch)
        print(f"{args.records} records, median of {args.repeat}")

        def local(attempt: int) -> StateBackend:
            backend = LocalFileBackend(root / f"state-{attempt}.json")
            backend.init()
            return backend

        measure("local file", local, args.records, args.repeat)

        from orchestra_dbt_py.dbt.command import parse_command, run_dbt
        from orchestra_dbt_py.dbt.queries import Warehouse
        from orchestra_dbt_py.dbt.session import DbtSession
        from orchestra_dbt_py.state.table import WarehouseBackend

        project = generate(root / "project", Shape(models=5, sources=1, test_share=0.0))
        os.chdir(project)
        os.environ["DBT_PROFILES_DIR"] = str(project)
        os.environ["SYNTHETIC_DUCKDB_PATH"] = str(root / "bench.duckdb")
        if run_dbt(["deps", "--quiet"]) != 0:
            raise SystemExit("dbt deps failed in the generated project")
        session = DbtSession(parse_command(["parse"]))

        def warehouse(attempt: int) -> StateBackend:
            return WarehouseBackend(f"orc_bench.state_{attempt}", lambda: Warehouse(session))

        measure("warehouse (DuckDB)", warehouse, args.records, args.repeat)


if __name__ == "__main__":
    main()
