"""Integration tests for the `orchestra_dbt` dbt package (the repository root).

Each test copies the package (root `dbt_project.yml` + `macros/`) and the
`integration_tests/` project into a temporary directory, so no build output
(target/, dbt_packages/, logs/, *.duckdb) is ever written into the repository.
It then runs `dbt deps` + `dbt build` in-process through `dbtRunner`; the
singular tests in integration_tests/tests/ call `orchestra_dbt.source_freshness`
and return rows when a result is wrong. Finally the macro is called the way
`orc` calls it, through `adapter.execute_macro`, to check what Python receives.

The PostgreSQL variant needs a server: it runs when PGHOST and PGPORT are set
(`make test` starts one) and uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IT_PROJECT = "orchestra_dbt_integration_tests"

# Pinned modification times of the CSV files behind the DuckDB file sources.
CSV_MTIME = 1_651_820_889  # 2022-05-06 07:08:09 UTC
ARCHIVE_MTIME = CSV_MTIME - 86_400  # older, so a glob must pick orders.csv

COMMON_TESTS = frozenset(
    {
        "assert_loaded_at_field_returns_max",
        "assert_loaded_at_query_returns_value",
        "assert_loaded_at_query_preferred_over_field",
        "assert_filter_is_applied",
        "assert_no_config_returns_none",
        "assert_empty_table_returns_none",
        "assert_dispatch_override_wins",
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
# The relations of the project; the sh_* ones (models/state_hooks/, seeds/state_hooks/) are
# the state-table hooks' (tests/integration/test_state_warehouse.py), which run in every build.
BUILT_NODES = frozenset(
    {
        "it_events",
        "it_empty_events",
        "sh_regions",
        "sh_stg_orders",
        "sh_stg_customers",
        "sh_order_totals",
        "sh_customer_regions",
        "sh_fragile",
    }
)

_IGNORED = shutil.ignore_patterns(
    "target", "dbt_packages", "logs", "package-lock.yml", "*.duckdb", "*.duckdb.wal", "*.pyc"
)


def _stage_project(base: Path) -> Path:
    """Copy the package and its integration project; return the project dir."""
    package_dir = base / "orchestra_dbt"
    package_dir.mkdir()
    shutil.copy2(REPO_ROOT / "dbt_project.yml", package_dir / "dbt_project.yml")
    shutil.copytree(REPO_ROOT / "macros", package_dir / "macros", ignore=_IGNORED)
    project_dir = package_dir / "integration_tests"
    shutil.copytree(REPO_ROOT / "integration_tests", project_dir, ignore=_IGNORED)
    os.utime(project_dir / "data" / "orders.csv", (CSV_MTIME, CSV_MTIME))
    os.utime(project_dir / "data" / "orders_archive.csv", (ARCHIVE_MTIME, ARCHIVE_MTIME))
    return project_dir


@pytest.fixture
def it_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project_dir = _stage_project(tmp_path)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(project_dir))
    monkeypatch.setenv("ORC_IT_DUCKDB_PATH", str(tmp_path / "integration_tests.duckdb"))
    # dbt-duckdb resolves external_location paths against the working directory.
    monkeypatch.chdir(project_dir)
    return project_dir


def _dbt(project_dir: Path, *args: str) -> Any:
    from dbt.cli.main import dbtRunner

    return dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ]
    )


def _deps_and_build(project_dir: Path, target: str) -> dict[str, str]:
    deps = _dbt(project_dir, "deps")
    assert deps.success, f"dbt deps failed: {deps.exception}"

    build = _dbt(
        project_dir,
        "build",
        "--target",
        target,
        "--vars",
        f"{{orc_it_csv_mtime: {CSV_MTIME}}}",
        # A macro YAML that drifts from the Jinja signature must fail the run.
        "--warn-error-options",
        '{"error": ["InvalidMacroAnnotation"]}',
    )
    assert build.exception is None, f"dbt build raised: {build.exception}"
    statuses = {
        result.node.name: str(getattr(result.status, "value", result.status))
        for result in build.result.results
    }
    assert build.success, f"dbt build failed: {statuses}"
    return statuses


def _assert_statuses(statuses: dict[str, str], expected_tests: frozenset[str]) -> None:
    tests = {name: status for name, status in statuses.items() if name.startswith("assert_")}
    assert tests == dict.fromkeys(expected_tests, "pass")
    built = {name: status for name, status in statuses.items() if name in BUILT_NODES}
    assert built == dict.fromkeys(BUILT_NODES, "success")


def _freshness_via_execute_macro(
    project_dir: Path, target: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """Call orchestra_dbt.source_freshness in-process, as orc does.

    `calls` holds (source unique_id suffix "source_name.table_name", kwargs);
    the relation is built from the parsed source node.
    """
    from dbt.adapters.factory import get_adapter, register_adapter, reset_adapters
    from dbt.config.runtime import RuntimeConfig
    from dbt.context.providers import generate_runtime_macro_context
    from dbt.flags import get_flags
    from dbt.mp_context import get_mp_context

    parsed = _dbt(project_dir, "parse", "--target", target)
    assert parsed.success, f"dbt parse failed: {parsed.exception}"
    manifest = parsed.result

    config = RuntimeConfig.from_args(get_flags())
    register_adapter(config, get_mp_context())
    adapter = get_adapter(config)
    adapter.set_macro_resolver(manifest)
    adapter.set_macro_context_generator(generate_runtime_macro_context)
    values = []
    try:
        with adapter.connection_named("orc_contract_test"):
            for source_key, kwargs in calls:
                node = manifest.sources[f"source.{IT_PROJECT}.{source_key}"]
                relation = adapter.Relation.create_from(config, node)
                values.append(
                    adapter.execute_macro(
                        "source_freshness",
                        project="orchestra_dbt",
                        kwargs={"relation": relation, **kwargs},
                    )
                )
    finally:
        adapter.cleanup_connections()
        reset_adapters()
    return values


COMMON_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("orc_it.events", {"loaded_at_field": "_loaded_at"}),
    ("orc_it.events", {"loaded_at_field": "_loaded_at", "filter": "region = 'eu'"}),
    ("orc_it.events", {}),
    ("orc_it.empty_events", {"loaded_at_field": "_loaded_at"}),
]
COMMON_EXPECTED = [
    dt.datetime(2024, 3, 5, 12, 30),
    dt.datetime(2024, 2, 20, 17, 45),
    None,
    None,
]


def test_package_macros_duckdb(it_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_IT_SCHEMA", "orc_it")
    statuses = _deps_and_build(it_project, "duckdb")
    _assert_statuses(statuses, COMMON_TESTS | DUCKDB_ONLY_TESTS)

    values = _freshness_via_execute_macro(
        it_project,
        "duckdb",
        [
            *COMMON_CALLS,
            (
                "orc_it_files.orders_read_csv",
                {"external_location": "read_csv('data/orders.csv', header = true)"},
            ),
            ("orc_it_files.orders_path", {}),
        ],
    )
    assert values[: len(COMMON_EXPECTED)] == COMMON_EXPECTED
    for value in values[len(COMMON_EXPECTED) :]:
        assert isinstance(value, dt.datetime)
        assert value.tzinfo is not None  # DuckDB's read_blob gives TIMESTAMP WITH TIME ZONE
        assert abs(value.timestamp() - CSV_MTIME) <= 2


def _postgres_configured() -> bool:
    return bool(os.environ.get("PGHOST")) and bool(os.environ.get("PGPORT"))


@pytest.fixture
def postgres_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import psycopg2

    schema = f"orc_it_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ORC_IT_SCHEMA", schema)
    yield schema
    connection = psycopg2.connect(
        host=os.environ["PGHOST"],
        port=int(os.environ["PGPORT"]),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
        dbname=os.environ.get("PGDATABASE", "postgres"),
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            # ..._raw holds the raw tables the on-run-start hook of the project creates.
            for name in (schema, f"{schema}_raw"):
                cursor.execute(f'drop schema if exists "{name}" cascade')
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.skipif(not _postgres_configured(), reason="PGHOST/PGPORT not set (no PostgreSQL)")
def test_package_macros_postgres(it_project: Path, postgres_schema: str) -> None:
    statuses = _deps_and_build(it_project, "postgres")
    _assert_statuses(statuses, COMMON_TESTS)

    values = _freshness_via_execute_macro(it_project, "postgres", COMMON_CALLS)
    assert values == COMMON_EXPECTED
