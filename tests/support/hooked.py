"""The package's integration_tests/ project, staged per test beside a copy of the package,
with its warehouse (DuckDB file or PostgreSQL schema); the warehouse state table tests and
the package macro tests share it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from tests.support.tutorial import REPO, run_dbt, run_orc

COMMON_TESTS = frozenset(
    {
        "assert_loaded_at_field_returns_max",
        "assert_loaded_at_query_returns_value",
        "assert_loaded_at_query_preferred_over_field",
        "assert_filter_is_applied",
        "assert_no_config_returns_none",
        "assert_empty_table_returns_none",
        "assert_dispatch_override_wins",
        "assert_data_versions_shape",
    }
)
DUCKDB_ONLY_TESTS = frozenset(
    {
        "assert_duckdb_external_plain_path",
        "assert_duckdb_external_read_csv",
        "assert_duckdb_external_glob_newest",
        "assert_duckdb_external_from_relation",
        "assert_duckdb_external_unmeasurable_none",
        "assert_duckdb_file_sources_readable",
    }
)

PROJECT = "orchestra_dbt_integration_tests"
DBT = Path(sys.executable).with_name("dbt")
GENERATED = ("target", "target_*", "dbt_packages", "logs", "package-lock.yml", "*.duckdb*")

SH_MODELS = frozenset(
    {"sh_stg_orders", "sh_stg_customers", "sh_order_totals", "sh_customer_regions", "sh_fragile"}
)
SH_SEEDS = frozenset({"sh_regions"})
SH_TESTS = frozenset(
    {
        "not_null_sh_stg_orders_order_id",
        "unique_sh_stg_customers_customer_id",
        "not_null_sh_order_totals_customer_id",
    }
)
UNIT_TEST = "sh_customer_regions_labels_regions"
IT_RELATIONS = frozenset({"it_events", "it_empty_events"})
# The relations of models/state_hooks/, whose data the tests compare.
SH_RELATIONS = SH_MODELS | SH_SEEDS

ORDERS = f"source.{PROJECT}.sh_raw.orders"
CUSTOMERS = f"source.{PROJECT}.sh_raw.customers"
# The newest loaded_at of each raw table as integration_tests/macros/state_hooks.sql makes it,
# as the hooks and orc write it.
ORDERS_AT = "2024-05-03T12:00:00Z"
CUSTOMERS_AT = "2024-04-02T09:30:00Z"
HOOK_CHANGED = "definition changed since the hooked run (code, config, macros or vars)"
# A source whose table does not exist. The hooks record it as unmeasured (they do not ask
# source_freshness about a missing table, whose query would fail the hook); orc asks, and
# the override in integration_tests/macros/source_freshness_overrides.sql answers. So orc
# builds what reads it once after each hooked run, and records a version it can reuse.
PROBE = f"source.{PROJECT}.orc_it.override_probe"
UNIT_TEST_FORCES = f"its unit test {UNIT_TEST} must run (no run recorded)"


def recorded_nodes(target: str) -> set[str]:
    """What a hooked `dbt build` of the whole project records: every model, seed and data
    test (unit tests are not recorded)."""
    tests = COMMON_TESTS | (DUCKDB_ONLY_TESTS if target == "duckdb" else frozenset())
    return set(SH_MODELS | SH_SEEDS | SH_TESTS | IT_RELATIONS | tests)


def all_nodes(target: str) -> set[str]:
    """What `orc dbt build` selects in the whole project."""
    return recorded_nodes(target) | {UNIT_TEST}


def name(unique_id: str) -> str:
    """`model.p.sh_stg_orders` -> `sh_stg_orders`; `test.p.not_null_x_id.abc123` ->
    `not_null_x_id`; a unit test -> its own name. A state key `<unique_id>@<relation>`
    names its node the same way."""
    unique_id = unique_id.partition("@")[0]
    if unique_id.startswith("test."):
        return unique_id.split(".")[2]
    return unique_id.rsplit(".", 1)[-1]


def uid(node: str) -> str:
    kind = "seed" if node in SH_SEEDS or node == "it_events" else "model"
    return f"{kind}.{PROJECT}.{node}"


def moment(text: str) -> datetime:
    """A stored time (the hook writes `...00.000000Z`, orc `...00Z`) as a datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def moments(times: Mapping[str, str]) -> dict[str, datetime]:
    return {key: moment(value) for key, value in times.items()}


class Row(NamedTuple):
    key: str
    kind: str
    last_updated: str
    item: str


@dataclass
class HookedProject:
    """A staged copy of integration_tests/ and its warehouse: a DuckDB file of its own, or
    schemas of its own on PostgreSQL."""

    root: Path
    target: str
    schema: str
    env: dict[str, str]

    @property
    def dir(self) -> Path:
        return self.root / "orchestra_dbt" / "integration_tests"

    @property
    def table(self) -> str:
        """The state table the hooks write (the var in dbt_project.yml) and orc reads."""
        return f"{self.schema}.orc_state"

    @property
    def raw_schema(self) -> str:
        return f"{self.schema}_raw"

    @property
    def duckdb_path(self) -> Path:
        return self.root / "it.duckdb"

    # --- running dbt and orc ----------------------------------------------------------------

    def dbt(self, *args: str, expect: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        """A plain dbt command: its builds run the hooks."""
        return run_dbt(args, self.dir, {**self.env, **env}, expect)

    def orc(
        self, *args: str, expect: int | None = 0, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """An `orc` command, with `env` added to the project's environment."""
        return run_orc(args, self.dir, {**self.env, **(env or {})}, expect)

    def build(self, *args: str, env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """`orc dbt build` on the warehouse state: each node's (decision, reason), after
        checking that dbt ran exactly the nodes orc decided to build, and that they passed."""
        self.orc("dbt", "build", *args, env=env)
        nodes = json.loads((self.dir / "target" / "orc_plan.json").read_text())["nodes"]
        decisions = {name(n["unique_id"]): (n["decision"], n["reason"]) for n in nodes}
        statuses = {name(n["unique_id"]): n["status"] for n in nodes if n["status"] is not None}
        assert set(statuses) == {n for n, (d, _) in decisions.items() if d == "build"}
        assert {n: s for n, s in statuses.items() if s not in ("success", "pass")} == {}
        return decisions

    # --- the warehouse ----------------------------------------------------------------------

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.target == "duckdb":
            import duckdb

            with duckdb.connect(str(self.duckdb_path)) as con:
                return [tuple(r) for r in con.execute(sql).fetchall()]
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def execute(self, sql: str) -> None:
        if self.target == "duckdb":
            import duckdb

            with duckdb.connect(str(self.duckdb_path)) as con:
                con.execute(sql)
            return
        import psycopg2

        with psycopg2.connect("") as con, con.cursor() as cur:
            cur.execute(sql)

    def exists(self, relation: str) -> bool:
        schema, table = relation.split(".")
        return bool(
            self.query(
                "select 1 from information_schema.tables "
                f"where table_schema = '{schema}' and table_name = '{table}'"
            )
        )

    def rows(self, table: str | None = None) -> list[Row]:
        """Every row of the state table, as stored."""
        found = self.query(
            f"select state_key, kind, last_updated, item from {table or self.table} "
            "order by state_key, last_updated"
        )
        return [Row(*(str(cell) for cell in row)) for row in found]

    def items(self, table: str | None = None) -> dict[str, dict[str, Any]]:
        """The full records by node name, each parsed, after checking there is exactly one
        row per key and no other kind of row (a run deletes the observation it made); the
        slim mirrors under plain unique ids are left out."""
        rows = self.rows(table)
        assert [r for r in rows if r.kind != "node"] == []
        keys = [r.key for r in rows]
        assert len(keys) == len(set(keys)), f"more than one row for a key: {sorted(keys)}"
        mirrored = {key.partition("@")[0] for key in keys if "@" in key}
        items = {}
        for row in (row for row in rows if row.key not in mirrored):
            item = json.loads(row.item)
            assert moment(item["last_updated"]) == moment(row.last_updated), row
            items[name(row.key)] = item
        return items

    def data(self, schema: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """The rows of every relation of models/state_hooks/, sorted."""
        schema = schema or self.schema
        return {
            relation: sorted(self.query(f"select * from {schema}.{relation}"), key=repr)
            for relation in sorted(SH_RELATIONS)
        }

    def drop(self) -> None:
        if self.target == "postgres":
            for suffix in ("", "_raw", "_ref"):
                self.execute(f'drop schema if exists "{self.schema}{suffix}" cascade')


def stage(root: Path, target: str, install: bool = True) -> HookedProject:
    """Copy the package and integration_tests/ under `root`. With `install`, the package is
    installed as `dbt deps` installs a local package (a link in dbt_packages/), which saves
    starting dbt once per test; the first test runs the real `dbt deps`."""
    package = root / "orchestra_dbt"
    package.mkdir()
    shutil.copy2(REPO / "dbt_project.yml", package / "dbt_project.yml")
    ignore = shutil.ignore_patterns(*GENERATED)
    shutil.copytree(REPO / "macros", package / "macros", ignore=ignore)
    shutil.copytree(REPO / "integration_tests", package / "integration_tests", ignore=ignore)
    if install:
        (package / "integration_tests" / "dbt_packages").mkdir()
        (package / "integration_tests" / "dbt_packages" / "orchestra_dbt").symlink_to(package)
    schema = f"orc_sw_{uuid.uuid4().hex[:10]}" if target == "postgres" else "orc_it"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ORCHESTRA_", "DBT_", "ORC_IT_"))
    }
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PROFILES_DIR": str(package / "integration_tests"),
            "DBT_TARGET": target,
            "ORC_IT_SCHEMA": schema,
            "ORC_IT_DUCKDB_PATH": str(root / "it.duckdb"),
            "ORCHESTRA_USE_STATEFUL": "true",
            "ORCHESTRA_STATE_FILE": f"warehouse:{schema}.orc_state",
        }
    )
    return HookedProject(root, target, schema, env)
