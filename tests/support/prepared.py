"""The tutorial prepared once per test session and copied for each test.

Preparing a project costs several dbt runs (installing the package, loading raw data, the
first full build); a copy costs a file copy and, on PostgreSQL, one `CREATE DATABASE ...
TEMPLATE`. Each stage is made once per pytest worker and kept:

* `loaded`: the package installed and batch 1 of the raw data loaded;
* `stateful`: the same with stateful orchestration on and an empty state file;
* `built`: the same after the first stateful `orc dbt build`, checked as a first build.

A copy is a project of its own: its own folder (the DuckDB file inside it, named relative to
the folder orc runs in) or its own PostgreSQL database. Its connection details are the same
as the prepared stage's, so dbt's partial parsing (target/partial_parse.msgpack, copied
too) spares each test a full parse; dbt still reparses every file whose content changed.
On PostgreSQL every copy of one worker uses the same database name, the
one its stage was prepared under, because orc's records name their relations with it; a
worker runs one test at a time, so the name is free again before each copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.tutorial import Project, built_relations, make_project, ran

STAGES = ("loaded", "stateful", "built")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
DATABASE = f"orc_test_{WORKER}"


def postgres_admin(*statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg2

    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def _template_database(target_stage: str) -> str:
    return f"orc_{target_stage}_{WORKER}"


class PreparedProjects:
    """The stages of the tutorial for this worker, made on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stages: dict[tuple[str, str], Project] = {}

    def copy(self, target: str, stage: str, root: Path) -> Project:
        """A fresh copy of `stage` of the tutorial on `target`, under `root`."""
        key = (target, stage)
        if key not in self.stages:
            self.stages[key] = self._prepare(target, stage)
        return self._copy(self.stages[key], stage, root)

    def _prepare(self, target: str, stage: str) -> Project:
        root = self.root / f"{target}-{stage}"
        root.mkdir()
        if stage == "loaded":
            if target == "postgres":
                postgres_admin(
                    f'drop database if exists "{DATABASE}" with (force)',
                    f'create database "{DATABASE}"',
                )
            project = make_project(root, target, DATABASE if target == "postgres" else None)
            # The same connection details in every copy let dbt's partial parsing carry over.
            project.env["TUTORIAL_DUCKDB_PATH"] = "tutorial.duckdb"
            project.orc("dbt", "deps", "--quiet")
            project.orc("dbt", "run-operation", "load_raw_data")
        else:
            previous = STAGES[STAGES.index(stage) - 1]
            project = self.copy(target, previous, root)
            if stage == "stateful":
                project.env["ORCHESTRA_USE_STATEFUL"] = "true"
                project.orc("state", "init")
            else:
                _first_build(project)
        if target == "postgres":
            template = _template_database(stage)
            postgres_admin(
                f'drop database if exists "{template}" with (force)',
                f'alter database "{DATABASE}" rename to "{template}"',
            )
        return project

    def _copy(self, prepared: Project, stage: str, root: Path) -> Project:
        shutil.copytree(
            prepared.root,
            root,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("logs"),
        )
        package = root / "tutorial" / "dbt_packages" / "orchestra_dbt"
        package.unlink()
        package.symlink_to(root)
        env = {**prepared.env, "DBT_PROFILES_DIR": str(root / "tutorial")}
        if prepared.target == "postgres":
            postgres_admin(
                f'drop database if exists "{DATABASE}" with (force)',
                f'create database "{DATABASE}" template "{_template_database(stage)}"',
            )
        return Project(root, prepared.target, prepared.schema, env)


def _first_build(project: Project) -> None:
    artifact = project.build()
    assert artifact["summary"]["reuse"] == 0
    assert {"fct_orders", "customers_snapshot", "order_statuses"} <= built_relations(artifact)
    assert "assert_order_totals_match" in ran(artifact)
