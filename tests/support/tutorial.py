"""The tutorial project copied per test, run through the `orc` CLI, and the checks of what a
stateful build left in the warehouse against a plain full build."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.forked import run_forked

REPO = Path(__file__).resolve().parents[2]
ORC = Path(sys.executable).with_name("orc")
GENERATED = {"target", "logs", "dbt_packages", ".orchestra"}


def postgres_available() -> bool:
    return bool(os.environ.get("PGHOST") and os.environ.get("PGPORT"))


TARGETS = [
    "duckdb",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not postgres_available(), reason="needs PGHOST/PGPORT (make test starts a server)"
            ),
        ],
    ),
]


def run_orc(
    args: tuple[str, ...], cwd: Path, env: Mapping[str, str], expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run `orc` (a process of its own, see forked.py); fail with its output unless it exits
    with `expect`."""
    return expect_exit(run_forked("orc", list(args), cwd, dict(env)), expect)


def run_dbt(
    args: tuple[str, ...], cwd: Path, env: Mapping[str, str], expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run plain `dbt` the same way."""
    return expect_exit(run_forked("dbt", list(args), cwd, dict(env)), expect)


def expect_exit(
    completed: subprocess.CompletedProcess[str], expect: int | None
) -> subprocess.CompletedProcess[str]:
    if expect is not None and completed.returncode != expect:
        raise AssertionError(
            f"{' '.join(completed.args)} exited {completed.returncode}, expected {expect}\n"
            f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
        )
    return completed


@dataclass
class Project:
    """A copy of the tutorial (with the root dbt package beside it) and a warehouse for it."""

    root: Path
    target: str
    schema: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.root / "tutorial"

    @property
    def state_path(self) -> Path:
        return self.dir / ".orchestra" / "state.json"

    def orc(
        self, *args: str, expect: int | None = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        takes_target = args[:1] == ("plan",) or (args[:1] == ("dbt",) and len(args) > 1)
        if takes_target and self.target != "duckdb":
            args = (*args, "--target", self.target)
        return run_orc(args, self.dir, {**self.env, **env}, expect)

    def build(self, *args: str, **env: str) -> dict[str, Any]:
        """A stateful `orc dbt build`; returns orc's plan artifact with each node's status.

        On DuckDB, `orc plan` with the same arguments is asked first: it must predict
        exactly what the build decides. The two commands share every step up to the
        decisions whatever the adapter, so one adapter checks it (a plan costs a parse).
        """
        predicted = None
        if self.target == "duckdb":
            predicted = json.loads(self.orc("plan", "--output", "json", *args, **env).stdout)
        self.orc("dbt", "build", *args, **env)
        artifact = self.plan_artifact()
        decisions = {n["unique_id"]: n["decision"] for n in artifact["nodes"]}
        if predicted is not None:
            assert {n["unique_id"]: n["decision"] for n in predicted["nodes"]} == decisions
        executed = {n["unique_id"] for n in artifact["nodes"] if n["status"] is not None}
        assert executed == {uid for uid, d in decisions.items() if d in ("build", "clone")}
        return artifact

    def raw_table(self, table: str) -> str:
        """A table of the tutorial's raw data (`load_raw_data`), as SQL names it."""
        schema = "main_raw" if self.target == "duckdb" else f"{self.schema}_raw"
        return f"{schema}.{table}"

    def plan_artifact(self) -> dict[str, Any]:
        return json.loads((self.dir / "target" / "orc_plan.json").read_text())

    def run_results(self) -> dict[str, str]:
        data = json.loads((self.dir / "target" / "run_results.json").read_text())
        return {r["unique_id"]: r["status"] for r in data["results"]}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.target == "duckdb":
            import duckdb

            with duckdb.connect(str(self.dir / "tutorial.duckdb"), read_only=True) as con:
                return [tuple(r) for r in con.execute(sql).fetchall()]
        with self.postgres() as con, con.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def execute(self, sql: str) -> None:
        if self.target == "duckdb":
            import duckdb

            with duckdb.connect(str(self.dir / "tutorial.duckdb")) as con:
                con.execute(sql)
            return
        with self.postgres() as con, con.cursor() as cur:
            cur.execute(sql)

    @contextmanager
    def postgres(self) -> Iterator[Any]:
        """A connection to the project's PostgreSQL database, committed and closed after."""
        import psycopg2

        connection = psycopg2.connect(dbname=self.env.get("PGDATABASE", "postgres"))
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def relations(self, schema: str | None = None) -> set[str]:
        schema = schema or self.schema
        rows = self.query(
            f"select table_name from information_schema.tables where table_schema = '{schema}'"
        )
        return {r[0] for r in rows}

    def project_files(self) -> dict[str, str]:
        """A digest of every file of the user's project (not what dbt or orc generate)."""
        digests: dict[str, str] = {}
        for path in sorted(self.dir.rglob("*")):
            rel = path.relative_to(self.dir)
            if (
                path.is_dir()
                or rel.parts[0] in GENERATED
                or path.name.startswith("tutorial.duckdb")
            ):
                continue
            digests[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests


def uninstall_package(project: Project) -> None:
    """The copy of the tutorial without the orchestra_dbt dbt package."""
    (project.dir / "packages.yml").write_text("packages: []\n")
    (project.dir / "package-lock.yml").unlink(missing_ok=True)
    (project.dir / "dbt_packages" / "orchestra_dbt").unlink()


def make_project(root: Path, target: str, database: str | None = None) -> Project:
    """A copy of the tutorial under `root`, nothing installed or loaded. On PostgreSQL it
    uses `database` (schema `orc`) when given, else a schema of its own in the server's
    default database."""
    shutil.copytree(
        REPO / "tutorial",
        root / "tutorial",
        ignore=shutil.ignore_patterns(*GENERATED, "*.duckdb*", "package-lock.yml"),
    )
    shutil.copy(REPO / "dbt_project.yml", root / "dbt_project.yml")
    shutil.copytree(REPO / "macros", root / "macros")
    schema = "main"
    if target == "postgres":
        schema = "orc" if database else f"orc_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(root / "tutorial"),
        "TUTORIAL_SCHEMA": schema,
        "TUTORIAL_DUCKDB_PATH": str(root / "tutorial" / "tutorial.duckdb"),
    }
    for key in list(env):
        if key.startswith("ORCHESTRA_"):
            del env[key]
    # The tutorial's pyproject turns stateful orchestration on; plain tests turn it off.
    env["ORCHESTRA_USE_STATEFUL"] = "false"
    if database:
        env["PGDATABASE"] = database
    return Project(root, target, schema, env)


TABLES_READING_ORDERS = {
    "int_order_payments",
    "fct_orders",
    "dim_customers",
    "fct_large_orders",
    "orders_incremental",
}
# Views built on tables: PostgreSQL drops them when those tables are replaced.
VIEWS_ON_TABLES = {"rpt_top_customers"}
COMPARED = {
    "stg_customers",
    "stg_orders",
    "stg_payments",
    "int_order_payments",
    "fct_orders",
    "dim_customers",
    "fct_large_orders",
    "orders_incremental",
    "customer_revenue_daily",
    "rpt_top_customers",
    "order_statuses",
}


def full_key(document: Mapping[str, Any], unique_id: str) -> str:
    """The key of a node's full record in a state document of one target
    (`<unique_id>@<relation>`; the plain key holds a slim mirror)."""
    (key,) = (key for key in document["state"] if key.partition("@")[0] == unique_id and "@" in key)
    return key


def name(unique_id: str) -> str:
    return (
        unique_id.split(".")[2] if unique_id.startswith("test.") else unique_id.rsplit(".", 1)[-1]
    )


def built_relations(artifact: dict[str, Any]) -> set[str]:
    """Models, seeds and snapshots orc decided to build."""
    return {
        name(n["unique_id"])
        for n in artifact["nodes"]
        if n["decision"] == "build" and n["resource_type"] in {"model", "seed", "snapshot"}
    }


def ran(artifact: dict[str, Any]) -> set[str]:
    """Every node dbt actually executed in that run."""
    return {name(n["unique_id"]) for n in artifact["nodes"] if n["status"] is not None}


def replaced_view_rebuilds(project: Project, tables: set[str]) -> set[str]:
    return VIEWS_ON_TABLES if project.target == "postgres" and tables & {"dim_customers"} else set()


def assert_matches_full_build(
    project: Project,
    artifact: dict[str, Any],
    *args: str,
    skip: frozenset[str] = frozenset(),
    also: frozenset[str] = frozenset(),
    raw: str | None = None,
) -> None:
    """Every model orc left in the warehouse equals what a plain full build makes of the same
    data (except models deliberately left stale by their build_after policy, and `skip`;
    `also` names models a test added to its copy; `raw` the raw data's schema when it is
    not the project schema's)."""
    stale = {name(n["unique_id"]) for n in artifact["nodes"] if "build_after" in n["reason"]}
    stale |= skip
    ref = f"{project.schema}_ref"
    project.orc(
        "dbt",
        "build",
        "--target-path",
        "target_ref",
        *args,
        TUTORIAL_SCHEMA=ref,
        TUTORIAL_RAW_SCHEMA=raw or f"{project.schema}_raw",
        ORCHESTRA_USE_STATEFUL="false",
    )
    for model in sorted((COMPARED | also) - stale):
        mine, theirs = f"{project.schema}.{model}", f"{ref}.{model}"
        for a, b in ((mine, theirs), (theirs, mine)):
            extra = project.query(f"select * from {a} except select * from {b}")
            assert not extra, f"{a} has rows {b} lacks: {extra[:3]}"
        count = f"select (select count(*) from {mine}) - (select count(*) from {ref}.{model})"
        assert project.query(count)[0][0] == 0, model
