"""Versions and freshness of DuckDB tables kept while the database file is unchanged
(kept_versions.py): what is read back equals what is measured, any committed change to the
file measures again, and what the file alone does not decide is never kept."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from dbt.adapters.duckdb.credentials import DuckDBCredentials

from orchestra_dbt_py.dbt import kept_versions
from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.kept_versions import KEPT_VERSIONS_FILE, duckdb_file
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.dbt.session import DbtSession

ORDERS, EVENTS, FILTERED = (f"source.shop.raw.{name}" for name in ("orders", "events", "filtered"))
SOURCES = (
    "sources:\n  - name: raw\n    schema: raw\n    loaded_at_field: loaded_at\n    tables:\n"
    "      - name: orders\n      - name: events\n"
    "      - name: filtered\n        identifier: orders\n"
    "        freshness:\n          warn_after: {count: 1, period: day}\n"
    "          filter: loaded_at < now()\n"
)


def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macro: str = "", linked: bool = False
) -> Path:
    """A project with a source table, a source view over it and the table again with a
    freshness filter; returns the database file the profile names (`linked`: a symbolic
    link to it in another folder)."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\n"
    )
    (project / "models" / "sources.yml").write_text(SOURCES)
    (project / "macros" / "override.sql").write_text(macro)
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema raw")
        connection.execute(
            "create table raw.orders as select range as id, 'open' as status, "
            "timestamp '2026-01-03 10:00' + to_hours(range) as loaded_at from range(5)"
        )
        connection.execute("create view raw.events as select * from raw.orders")
    if linked:
        (tmp_path / "link").mkdir()
        (tmp_path / "link" / database.name).symlink_to(database)
        database = tmp_path / "link" / database.name
    (tmp_path / "profiles.yml").write_text(
        f"shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {database}\n      schema: main\n      threads: 1\n"
    )
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.chdir(tmp_path)
    return database


def session(tmp_path: Path) -> DbtSession:
    project = tmp_path / "project"
    args = ["build", "--project-dir", str(project), "--profiles-dir", str(tmp_path)]
    return DbtSession(parse_command([*args, "--log-path", str(tmp_path / "logs")]))


def measure(warehouse: Warehouse) -> tuple[dict, dict, dict[str, int]]:
    """Versions and freshness of the three sources, and how many of each step were measured
    or kept in this call ("listed": schemas listed for the relations that exist)."""
    warehouse.measurements.clear()
    versions, error = warehouse.data_versions([ORDERS, EVENTS])
    assert error is None
    freshness, errors = warehouse.measure_freshness([ORDERS, EVENTS, FILTERED])
    assert not errors
    steps = {step: count for step, count, _ in warehouse.measurements}
    adapter = warehouse.session.adapter
    listings: list[object] = []
    listing = adapter.list_relations_without_caching

    def counted(schema: object) -> object:
        listings.append(schema)
        return listing(schema)

    adapter.list_relations_without_caching = counted
    try:
        names = [
            adapter.Relation.create(database="shop", schema="raw", identifier=name)
            for name in ("orders", "extra")
        ]
        existing = warehouse.existing_named(names)
    finally:
        del adapter.list_relations_without_caching
    if listings:
        steps["listed"] = len(listings)
    return versions or {}, {**freshness, "existing": sorted(existing)}, steps


@pytest.mark.compat
@pytest.mark.parametrize("linked", [False, True])
def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, linked: bool
) -> None:
    database = make_project(tmp_path, monkeypatch, linked=linked)
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 0)
    warehouse = Warehouse(session(tmp_path))
    first = measure(warehouse)
    assert first[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert first[0][ORDERS] and first[0][EVENTS] and first[1][ORDERS]
    assert first[1]["existing"] == ['"shop"."raw"."orders"']

    again = measure(warehouse)
    # The table and its freshness are kept; the view and the filtered freshness never are.
    assert again[2] == {
        "data_versions_kept": 1,
        "data_versions": 1,
        "freshness_kept": 1,
        "freshness": 2,
    }
    assert again[:2] == first[:2]
    kept = json.loads((tmp_path / "project" / "target" / KEPT_VERSIONS_FILE).read_text())
    assert list(kept["tables"]) == ['"shop"."raw"."orders"']

    # A new table is listed once the file has changed.
    with duckdb.connect(str(database)) as connection:
        connection.execute("create table raw.extra as select 1 as id")
    extra = measure(warehouse)
    assert extra[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert extra[1]["existing"] == ['"shop"."raw"."extra"', '"shop"."raw"."orders"']
    assert extra[:2] != first[:2] and measure(warehouse)[:2] == extra[:2]

    # A committed change that keeps the size of everything (in the log only, as the session
    # keeps the database open): measured again, and it shows.
    with duckdb.connect(str(database)) as connection:
        connection.execute("update raw.orders set status = 'done' where id = 2")
    assert [*database.parent.glob("*.wal"), *database.resolve().parent.glob("*.wal")]
    changed = measure(warehouse)
    assert changed[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert changed[0][ORDERS] != first[0][ORDERS]
    assert changed[0][EVENTS] != first[0][EVENTS]

    # New rows reach the freshness too, through a checkpoint into the file itself.
    with duckdb.connect(str(database)) as connection:
        connection.execute("insert into raw.orders values (9, 'open', timestamp '2026-02-01')")
        connection.execute("checkpoint")
    later = measure(warehouse)
    assert later[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert later[1][ORDERS] is not None and later[1][ORDERS] > first[1][ORDERS]


def test_a_file_that_just_changed_is_not_kept_unless_its_content_is_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look at a file changed within the settling time (set long here, so that the test
    does not depend on how fast the machine is) keeps nothing when the file's content mark
    cannot be read (here: a write-ahead log too large to read)."""
    database = make_project(tmp_path, monkeypatch)
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 3_600_000_000_000)
    monkeypatch.setattr(kept_versions, "_MARKED_LOG_BYTES", -1)
    warehouse = Warehouse(session(tmp_path))
    measure(warehouse)  # the session now holds the file open: a change stays in its log
    with duckdb.connect(str(database)) as connection:
        connection.execute("update raw.orders set status = 'done' where id = 1")
    measure(warehouse)
    assert measure(warehouse)[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert measure(Warehouse(warehouse.session))[2] == {
        "data_versions": 2,
        "freshness": 3,
        "listed": 1,
    }
    # Once it has settled, it is kept.
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 0)
    measure(warehouse)
    assert measure(warehouse)[2]["data_versions_kept"] == 1


def test_a_file_that_just_changed_is_kept_while_its_content_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look within the settling time is kept by the file's content mark and read back by
    the next run while the content is the same, even where the file's times and sizes do
    not tell a change (held still here): a committed change, in the log or checkpointed
    into the file, is measured again."""
    database = make_project(tmp_path, monkeypatch)
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 3_600_000_000_000)
    now = time.time_ns()
    still = [[1, 2, 3, now, now], None, None]
    monkeypatch.setattr(kept_versions, "_signature", lambda path: still)
    parsed = session(tmp_path)
    first = measure(Warehouse(parsed))
    assert first[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    kept = {"data_versions_kept": 1, "data_versions": 1, "freshness_kept": 1, "freshness": 2}
    assert measure(Warehouse(parsed)) == (*first[:2], kept)

    with duckdb.connect(str(database)) as connection:  # into the log the session keeps open
        connection.execute("update raw.orders set status = 'done' where id = 1")
    in_log = measure(Warehouse(parsed))
    assert in_log[2] == first[2] and in_log[0][ORDERS] != first[0][ORDERS]
    assert measure(Warehouse(parsed)) == (*in_log[:2], kept)

    with duckdb.connect(str(database)) as connection:
        connection.execute("update raw.orders set status = 'open' where id = 1")
        connection.execute("checkpoint")
    checkpointed = measure(Warehouse(parsed))
    assert checkpointed[2] == first[2] and checkpointed[:2] == first[:2]


def test_every_committed_change_moves_the_content_mark(tmp_path: Path) -> None:
    """What the content mark relies on in the DuckDB release installed: a commit reaches the
    log, a checkpoint the headers; reads and checkpoints with nothing to write move nothing,
    and data that comes back to what it was still has a new mark."""
    path = tmp_path / "marked.duckdb"
    marks: list[str | None] = []
    with duckdb.connect(str(path)) as connection:
        for statement in (
            "create table t as select 1 as a",
            "checkpoint",
            "update t set a = 2",
            "checkpoint",
            "update t set a = 1",
            "checkpoint",
        ):
            connection.execute(statement)
            marks.append(kept_versions._content_mark(path))
        connection.execute("select * from t").fetchall()
        connection.execute("checkpoint")
        assert kept_versions._content_mark(path) == marks[-1]
    assert kept_versions._content_mark(path) == marks[-1]
    assert None not in marks and len(set(marks)) == len(marks)
    (tmp_path / "other.duckdb").write_bytes(b"not a database" * 1000)
    assert kept_versions._content_mark(tmp_path / "other.duckdb") is None


def test_a_project_measuring_its_own_way_is_measured_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = (
        "{% macro duckdb__data_versions(relations) %}"
        "{{ return(orchestra_dbt.duckdb__data_versions(relations)) }}{% endmacro %}"
    )
    make_project(tmp_path, monkeypatch, override)
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 0)
    warehouse = Warehouse(session(tmp_path))
    measure(warehouse)
    assert measure(warehouse)[2] == {"data_versions": 2, "freshness": 3, "listed": 1}


@pytest.mark.parametrize(
    "damage",
    [
        lambda kept: {**kept, "tables": {'"shop"."raw"."orders"': {"rows": 5}}},
        lambda kept: {**kept, "freshness": {'"shop"."raw"."orders"': ["loaded_at", "soon"]}},
        lambda kept: {**kept, "signature": [None, None]},
        lambda kept: {**kept, "measured_by": "other macros"},
        lambda kept: {**kept, "mark": "not the file's content"},
        lambda kept: [kept],
    ],
)
def test_a_damaged_cache_is_measured_again_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: object
) -> None:
    make_project(tmp_path, monkeypatch)
    monkeypatch.setattr(kept_versions, "SETTLED_NS", 0)
    warehouse = Warehouse(session(tmp_path))
    first = measure(warehouse)
    path = tmp_path / "project" / "target" / KEPT_VERSIONS_FILE
    assert callable(damage)
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    # The next run reads the file (a run keeps what it looked at in memory meanwhile).
    next_run = Warehouse(warehouse.session)
    again = measure(next_run)
    assert again[2] == {"data_versions": 2, "freshness": 3, "listed": 1}
    assert again[:2] == first[:2]
    assert measure(Warehouse(warehouse.session))[2]["data_versions_kept"] == 1


def test_what_other_macros_measured_is_not_read_back(tmp_path: Path) -> None:
    """The digest of the measuring macros changes with any of them (the package's, or dbt's
    collect_freshness), and a project overriding one is never kept at all."""
    database = tmp_path / "shop.duckdb"
    duckdb.connect(str(database)).close()
    credentials = DuckDBCredentials(database="shop", schema="main", path=str(database))

    def digest(**macros: tuple[str, str]) -> str | None:
        found = duckdb_file(
            "duckdb",
            credentials,
            {
                uid: SimpleNamespace(name=uid.split(".")[-1], package_name=package, macro_sql=sql)
                for uid, (package, sql) in macros.items()
            },
            None,
        )
        return found.measured_by if found else None

    package = {"macro.orchestra_dbt.duckdb__data_versions": ("orchestra_dbt", "a")}
    freshness = {"macro.dbt.collect_freshness": ("dbt", "b")}
    first = digest(**package, **freshness)
    assert first is not None and first == digest(**package, **freshness)
    assert digest(**package, **{"macro.dbt.collect_freshness": ("dbt", "c")}) != first
    assert (
        digest(**{"macro.orchestra_dbt.duckdb__data_versions": ("orchestra_dbt", "x")}, **freshness)
        != first
    )
    assert digest(**package, **freshness, **{"macro.shop.collect_freshness": ("shop", "")}) is None
