"""Integration tests for the `orchestra_dbt` dbt package (the repository root).

Each test copies the package (root `dbt_project.yml` + `macros/`) and the
`integration_tests/` project into a temporary directory, so no build output
(target/, dbt_packages/, logs/, *.duckdb) is ever written into the repository.
It then runs `dbt deps` + `dbt build` in-process through `dbtRunner`; the
singular tests in integration_tests/tests/ call `orchestra_dbt.source_freshness`
and return rows when a result is wrong. Finally the macro is called the way
`orc` calls it, through `adapter.execute_macro`, to check what Python receives.

`orchestra_dbt.data_versions` is called the same way (test_data_versions_*): tables are
created, measured, changed in the ways a version must notice (and one it may), and
measured again; the singular test assert_data_versions_shape checks its shape in the build.

The PostgreSQL variant needs a server: it runs when PGHOST and PGPORT are set
(`make test` starts one) and uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hooked import COMMON_TESTS, DUCKDB_ONLY_TESTS

REPO_ROOT = Path(__file__).resolve().parents[2]
IT_PROJECT = "orchestra_dbt_integration_tests"

# Pinned modification times of the CSV files behind the DuckDB file sources.
CSV_MTIME = 1_651_820_889  # 2022-05-06 07:08:09 UTC
ARCHIVE_MTIME = CSV_MTIME - 86_400  # older, so a glob must pick orders.csv

# The relations of the project; the sh_* ones (models/state_hooks/, seeds/state_hooks/) are
# the state-table hooks' (tests/support/hooked.py), which run in every build.
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


@contextlib.contextmanager
def _in_process_adapter(project_dir: Path, target: str) -> Iterator[tuple[Any, Any, Any]]:
    """(adapter, manifest, config) of a parsed project, with an open connection: the
    package's macros are called through `adapter.execute_macro`, as orc calls them."""
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
    try:
        with adapter.connection_named("orc_contract_test"):
            yield adapter, manifest, config
    finally:
        adapter.cleanup_connections()
        reset_adapters()


def _freshness_via_execute_macro(
    project_dir: Path, target: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[Any]:
    """Call orchestra_dbt.source_freshness in-process, as orc does, one source at a time and
    all at once (sources_freshness).

    `calls` holds (source unique_id suffix "source_name.table_name", kwargs);
    the relation is built from the parsed source node.
    """
    values = []
    with _in_process_adapter(project_dir, target) as (adapter, manifest, config):
        arguments = []
        for source_key, kwargs in calls:
            node = manifest.sources[f"source.{IT_PROJECT}.{source_key}"]
            relation = adapter.Relation.create_from(config, node)
            arguments.append({"relation": relation, **kwargs})
            values.append(
                adapter.execute_macro(
                    "source_freshness", project="orchestra_dbt", kwargs=arguments[-1]
                )
            )
        # sources_freshness answers the same, in one call.
        batch = adapter.execute_macro(
            "sources_freshness", project="orchestra_dbt", kwargs={"sources": arguments}
        )
        assert batch == values
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


# --- orchestra_dbt.data_versions on real warehouses ------------------------------------

DV_COLUMNS = "id integer, amount integer, loaded_at timestamp"
DV_ROWS = (
    "(1, 10, timestamp '2024-01-01 00:00:00'), "
    "(2, 20, timestamp '2024-01-02 00:00:00'), "
    "(3, 30, timestamp '2024-01-03 00:00:00')"
)

# Each table of the scenario, and the statements that change it after the first measurement
# ({t} is the table).
DV_CHANGES: dict[str, list[str]] = {
    "dv_unchanged": [],
    # loaded_at untouched, so a rule on max(loaded_at) would miss it.
    "dv_update": ["update {t} set amount = amount + 1 where id = 2"],
    # A late row with an old loaded_at: max(loaded_at) does not move.
    "dv_late_row": ["insert into {t} values (4, 40, timestamp '2020-01-01 00:00:00')"],
    "dv_delete": ["delete from {t} where id = 3"],
    "dv_truncate": ["truncate table {t}"],
    "dv_recreate": [
        "drop table {t}",
        f"create table {{t}} ({DV_COLUMNS})",
        f"insert into {{t}} values {DV_ROWS}",
    ],
    "dv_same_value": ["update {t} set amount = amount"],
}
# Whether each change moves the version. Every real change does, on both. The last two keep
# the data as it was: PostgreSQL's row-version digest still moves (new row versions, a new
# table), DuckDB's content digest rightly does not (same content).
DV_CHANGED: dict[str, dict[str, bool]] = {
    "postgres": {
        "dv_unchanged": False,
        "dv_update": True,
        "dv_late_row": True,
        "dv_delete": True,
        "dv_truncate": True,
        "dv_recreate": True,
        "dv_same_value": True,
    },
    "duckdb": {
        "dv_unchanged": False,
        "dv_update": True,
        "dv_late_row": True,
        "dv_delete": True,
        "dv_truncate": True,
        "dv_recreate": False,
        "dv_same_value": False,
    },
}
DV_FIELDS = {
    "postgres": {"oid", "relfilenode", "columns", "rows", "xmin_digest"},
    "duckdb": {"columns", "rows", "digest"},
}
FILE_FIELDS = {"files", "bytes", "modified", "listing"}


def _run_sql(adapter: Any, *statements: str) -> None:
    if not statements:
        return
    for sql in statements:
        adapter.execute(sql, auto_begin=True)
    adapter.commit_if_has_connection()


def _data_versions(adapter: Any, relations: list[Any]) -> dict[str, dict[str, str]]:
    versions = adapter.execute_macro(
        "data_versions", project="orchestra_dbt", kwargs={"relations": relations}
    )
    return {key: dict(version) for key, version in versions.items()}


def _table(adapter: Any, config: Any, name: str, **kwargs: Any) -> Any:
    return adapter.Relation.create(
        database=config.credentials.database,
        schema=config.credentials.schema,
        identifier=name,
        type="table",
        **kwargs,
    )


def _assert_known(version: dict[str, str], fields: set[str]) -> None:
    assert set(version) == fields
    assert all(isinstance(value, str) and value for value in version.values()), version


def _table_scenario(adapter: Any, config: Any, target: str) -> dict[str, Any]:
    """Create the tables, measure, change them, measure again; return the tables."""
    _run_sql(adapter, f"create schema if not exists {adapter.quote(config.credentials.schema)}")
    tables = {name: _table(adapter, config, name) for name in DV_CHANGES}
    for relation in tables.values():
        _run_sql(
            adapter,
            f"create table {relation} ({DV_COLUMNS})",
            f"insert into {relation} values {DV_ROWS}",
        )
    views = _create_views(adapter, config, tables)
    missing = _table(adapter, config, "dv_missing")
    relations = [*tables.values(), *views.values(), missing, tables["dv_update"]]

    before = _data_versions(adapter, relations)
    assert set(before) == {relation.render() for relation in relations}
    assert before[missing.render()] == {}
    for relation in tables.values():
        _assert_known(before[relation.render()], DV_FIELDS[target])
        assert before[relation.render()]["rows"] == "3"
    assert _data_versions(adapter, relations) == before, "measuring twice must agree"

    for name, statements in DV_CHANGES.items():
        _run_sql(adapter, *(sql.format(t=tables[name]) for sql in statements))
    after = _data_versions(adapter, relations)

    changed = {
        name: after[relation.render()] != before[relation.render()]
        for name, relation in tables.items()
    }
    assert changed == DV_CHANGED[target]
    for relation in tables.values():
        _assert_known(after[relation.render()], DV_FIELDS[target])
    assert after[tables["dv_truncate"].render()]["rows"] == "0"
    assert after[missing.render()] == {}
    _assert_view_versions(adapter, config, target, tables, views, before, after)
    return tables


def _create_views(adapter: Any, config: Any, tables: dict[str, Any]) -> dict[str, Any]:
    """Views over the scenario's tables: over one table; over a view over a table, in
    another schema; over a table, then redefined; and, on PostgreSQL, views whose rows
    follow something no table holds (a volatile function, the clock)."""
    other = f"{config.credentials.schema}_raw"
    _run_sql(adapter, f"create schema if not exists {adapter.quote(other)}")
    views = {
        "dv_view": _table(adapter, config, "dv_view"),
        "dv_view_update": _table(adapter, config, "dv_view_update"),
        "dv_view_of_view": adapter.Relation.create(
            database=config.credentials.database, schema=other, identifier="dv_view_of_view"
        ),
        "dv_view_redefined": _table(adapter, config, "dv_view_redefined"),
    }
    _run_sql(
        adapter,
        f"create view {views['dv_view']} as select * from {tables['dv_unchanged']}",
        f"create view {views['dv_view_update']} as "
        f"select id, amount from {tables['dv_update']} where id > 0",
        f"create view {views['dv_view_of_view']} as select * from {views['dv_view_update']}",
        f"create view {views['dv_view_redefined']} as select id from {tables['dv_unchanged']}",
    )
    if adapter.type() == "postgres":
        views["dv_view_random"] = _table(adapter, config, "dv_view_random")
        views["dv_view_clock"] = _table(adapter, config, "dv_view_clock")
        _run_sql(
            adapter,
            f"create view {views['dv_view_random']} as "
            f"select id, random() as r from {tables['dv_unchanged']}",
            f"create view {views['dv_view_clock']} as "
            f"select * from {tables['dv_unchanged']} where loaded_at < current_date",
        )
    return views


def _assert_view_versions(
    adapter: Any,
    config: Any,
    target: str,
    tables: dict[str, Any],
    views: dict[str, Any],
    before: dict[str, dict[str, str]],
    after: dict[str, dict[str, str]],
) -> None:
    """A view's version follows what it reads: its definition and, through views under it
    and across schemas, the tables under it (on PostgreSQL, their fields under their name:
    `<schema>.dv_update.xmin_digest`; on DuckDB, a digest of the view's own rows)."""
    schema = config.credentials.schema

    def version(found: dict[str, dict[str, str]], name: str) -> dict[str, str]:
        return found[views[name].render()]

    if target == "postgres":
        for name in ("dv_view_random", "dv_view_clock"):
            assert version(before, name) == version(after, name) == {}, name
        update = f"{schema}.dv_update"
        fields = {"definition"} | {f"{update}.{f}" for f in DV_FIELDS[target]}
        assert set(version(before, "dv_view_of_view")) == fields
        moved = {
            f
            for f in fields
            if version(before, "dv_view_of_view")[f] != version(after, "dv_view_of_view")[f]
        }
        assert moved == {f"{update}.xmin_digest"}
    else:
        assert set(version(before, "dv_view_of_view")) == DV_FIELDS[target] | {"definition"}
    for name in ("dv_view", "dv_view_update", "dv_view_of_view", "dv_view_redefined"):
        assert all(isinstance(v, str) and v for v in version(before, name).values()), name
    assert version(after, "dv_view") == version(before, "dv_view")
    assert version(after, "dv_view_redefined") == version(before, "dv_view_redefined")
    for name in ("dv_view_update", "dv_view_of_view"):
        assert version(after, name) != version(before, name), name

    # Redefined, with the same rows: only its definition moves.
    _run_sql(
        adapter,
        f"drop view {views['dv_view_redefined']}",
        f"create view {views['dv_view_redefined']} as "
        f"select id from {tables['dv_unchanged']} where id > 0",
    )
    redefined = _data_versions(adapter, [views["dv_view_redefined"]])[
        views["dv_view_redefined"].render()
    ]
    earlier = version(after, "dv_view_redefined")
    assert {f for f in redefined.keys() | earlier.keys() if redefined.get(f) != earlier.get(f)} == {
        "definition"
    }


def test_data_versions_duckdb(it_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_IT_SCHEMA", "orc_it")
    deps = _dbt(it_project, "deps")
    assert deps.success, f"dbt deps failed: {deps.exception}"

    files = it_project / "data" / "dv"
    files.mkdir()
    for name, text, mtime in [
        ("a.csv", "id\n1\n", CSV_MTIME),
        ("b.csv", "id\n2\n", CSV_MTIME + 10),
        ("c.csv", "id\n3\n", CSV_MTIME + 20),
    ]:
        (files / name).write_text(text)
        os.utime(files / name, (mtime, mtime))

    with _in_process_adapter(it_project, "duckdb") as (adapter, manifest, config):
        _table_scenario(adapter, config, "duckdb")

        # File-backed sources (dbt-duckdb `external_location`), keyed by that location.
        orders = adapter.Relation.create_from(
            config, manifest.sources[f"source.{IT_PROJECT}.orc_it_files.orders_path"]
        )
        glob = _table(adapter, config, "dv_glob", external="'data/dv/*.csv'")
        listed = _table(
            adapter, config, "dv_list", external="read_csv(['data/dv/a.csv', 'data/dv/b.csv'])"
        )
        no_file = _table(adapter, config, "dv_none", external="'data/dv_none/*.csv'")
        unmeasurable = _table(adapter, config, "dv_iceberg", external="iceberg_scan('data/x')")
        # A view over files is measured by what it returns: any change to their rows.
        files_view = _table(adapter, config, "dv_files_view")
        _run_sql(adapter, f"create view {files_view} as select * from read_csv('data/dv/*.csv')")
        relations = [orders, glob, listed, no_file, unmeasurable, files_view]

        start = _data_versions(adapter, relations)
        assert set(start) == {
            "'data/orders.csv'",
            "'data/dv/*.csv'",
            *(relation.render() for relation in (listed, no_file, unmeasurable, files_view)),
        }
        _assert_known(start[files_view.render()], DV_FIELDS["duckdb"] | {"definition"})
        for relation in (orders, glob, listed):
            _assert_known(start[relation.render()], FILE_FIELDS)
        assert start[glob.render()]["files"] == "3"
        assert start[listed.render()]["files"] == "2"
        assert start[glob.render()]["modified"] == str((CSV_MTIME + 20) * 1_000_000)
        assert start[no_file.render()] == start[unmeasurable.render()] == {}

        # b.csv, listed by both, gets a row (and a new time).
        with (files / "b.csv").open("a") as handle:
            handle.write("4\n")
        os.utime(files / "b.csv", (CSV_MTIME + 30, CSV_MTIME + 30))
        appended = _data_versions(adapter, relations)
        for relation in (glob, listed):
            assert appended[relation.render()] != start[relation.render()]
            assert appended[relation.render()]["modified"] == str((CSV_MTIME + 30) * 1_000_000)
        assert appended[orders.render()] == start[orders.render()]
        assert appended[files_view.render()]["rows"] == "4"

        # A file renamed within the glob keeps count, size and time: only the listing moves.
        (files / "c.csv").rename(files / "d.csv")
        renamed = _data_versions(adapter, relations)
        old, new = appended[glob.render()], renamed[glob.render()]
        assert {field for field in FILE_FIELDS if old[field] != new[field]} == {"listing"}
        assert renamed[listed.render()] == appended[listed.render()]

        # The blind spot of file sources: rewritten in place, same size, modification time
        # set back. A view reading the files sees the new row.
        (files / "a.csv").write_text("id\n9\n")
        os.utime(files / "a.csv", (CSV_MTIME, CSV_MTIME))
        rewritten = _data_versions(adapter, relations)
        assert rewritten[files_view.render()]["digest"] != renamed[files_view.render()]["digest"]
        rewritten[files_view.render()] = renamed[files_view.render()]
        assert rewritten == renamed


@pytest.mark.postgres
@pytest.mark.skipif(not _postgres_configured(), reason="PGHOST/PGPORT not set (no PostgreSQL)")
def test_data_versions_postgres(it_project: Path, postgres_schema: str) -> None:
    import psycopg2

    deps = _dbt(it_project, "deps")
    assert deps.success, f"dbt deps failed: {deps.exception}"

    with _in_process_adapter(it_project, "postgres") as (adapter, _manifest, config):
        _table_scenario(adapter, config, "postgres")

        # An update by a transaction that began before the measurement and commits after
        # it, while a newer one committed before it: the table's newest xmin does not move
        # (a rule on max(xmin) would miss the update), the digest does.
        late = _table(adapter, config, "dv_old_transaction")
        _run_sql(
            adapter,
            f"create table {late} ({DV_COLUMNS})",
            f"insert into {late} values {DV_ROWS}",
        )
        settings = {
            "host": os.environ["PGHOST"],
            "port": int(os.environ["PGPORT"]),
            "user": os.environ.get("PGUSER", "postgres"),
            "password": os.environ.get("PGPASSWORD", ""),
            "dbname": os.environ.get("PGDATABASE", "postgres"),
        }
        older = psycopg2.connect(**settings)
        newer = psycopg2.connect(**settings)
        try:
            newer.autocommit = True
            with older.cursor() as old_cursor, newer.cursor() as new_cursor:
                old_cursor.execute("select txid_current()")  # the older transaction's id
                new_cursor.execute(
                    f"insert into {late} values (4, 40, timestamp '2024-01-04 00:00:00')"
                )
                new_cursor.execute(f"select max(xmin::text::bigint) from {late}")
                (newest_before,) = new_cursor.fetchone()
                before = _data_versions(adapter, [late])

                old_cursor.execute(f"update {late} set amount = amount + 1 where id = 1")
                older.commit()
                new_cursor.execute(f"select max(xmin::text::bigint) from {late}")
                (newest_after,) = new_cursor.fetchone()
                after = _data_versions(adapter, [late])
        finally:
            older.close()
            newer.close()
        assert newest_after == newest_before
        assert after[late.render()] != before[late.render()]
        assert after[late.render()]["rows"] == before[late.render()]["rows"] == "4"
