"""`migrate` between every pair of backends (local file, S3 on the moto server, GCS on
fake-gcs-server, Azure Blob on Azurite, the HTTP API on a real local server, the warehouse
table on DuckDB and PostgreSQL), opened by URI as
`orc state migrate --from URI --to URI` does: the items arrive unchanged and come back
unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import orchestra_dbt_py.state as state_module
from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.state import backend_for_uri
from orchestra_dbt_py.state.backend import StateBackend
from orchestra_dbt_py.state.transfer import migrate
from tests.support.cloud_stores import (
    RECORDS,
    new_container,
    new_gcs_bucket,
    requires_azure,
    requires_gcs,
)
from tests.support.hooked import HookedProject, stage
from tests.support.state_servers import StateApiServer, new_bucket, requires_s3, state_api_server
from tests.support.tutorial import TARGETS

KEY = "sk-migrate-test-0001"


@pytest.fixture
def api() -> Iterator[StateApiServer]:
    with state_api_server(KEY) as running:
        yield running


Opener = Callable[[str], StateBackend]


def opener(kind: str, tmp_path: Path, api: StateApiServer) -> StateBackend:
    """A fresh, empty backend of `kind`, opened by URI."""
    settings = Settings(api_key=KEY, api_base_url=api.base_url)
    if kind == "local":
        uri = f"state-{len(list(tmp_path.iterdir()))}.json"
    elif kind == "s3":
        uri = f"s3://{new_bucket('orc-migrate')}/orc/state.json"
    elif kind == "gs":
        uri = f"gs://{new_gcs_bucket('orc-migrate')}/orc/state.json"
    elif kind == "az":
        uri = f"az://{new_container('orc-migrate')}/orc/state.json"
    else:
        uri = "orchestra://"
        api.items.clear()
    return backend_for_uri(uri, settings, workdir=tmp_path)


KINDS = {"local": [], "s3": requires_s3, "gs": requires_gcs, "az": requires_azure, "http": []}
PAIRS = [
    pytest.param(source, target, marks=[*KINDS[source], *KINDS[target]], id=f"{source}-{target}")
    for source in KINDS
    for target in KINDS
    if source != target
]


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
def test_migrate_round_trips_the_items(
    source_kind: str, target_kind: str, tmp_path: Path, api: StateApiServer
) -> None:
    source = opener(source_kind, tmp_path, api)
    source.init()
    source.update(RECORDS)
    assert source.load() == RECORDS

    target = opener(target_kind, tmp_path, api)
    result = migrate(source, target)
    assert (result.sent, result.total) == (len(RECORDS), len(RECORDS))
    assert target.load() == RECORDS

    back = opener(source_kind, tmp_path, api)
    migrate(target, back)
    assert back.load() == RECORDS


# --- the warehouse table ---------------------------------------------------------------------


@pytest.fixture(params=TARGETS)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HookedProject]:
    """The package's integration_tests project (see py), as the current
    directory and environment: `warehouse:` URIs are opened with its dbt project and target.
    Every warehouse backend of a test shares one parse of the project."""
    from dbt.adapters.factory import reset_adapters

    project = stage(tmp_path, str(request.param))
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.dir)
    shared = state_module._project_session()
    monkeypatch.setattr(state_module, "_project_session", lambda: shared)
    try:
        yield project
    finally:
        reset_adapters()  # closes dbt's connections (DuckDB: the file) before the checks
        project.drop()


def keys_in(project: HookedProject, table: str) -> list[str]:
    """The keys of a state table's rows, read from the table."""
    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # DuckDB: dbt's connection in this process would hold the file
    return sorted(str(row[0]) for row in project.query(f"select state_key from {table}"))


OTHERS = [
    pytest.param("local", id="local"),
    pytest.param("s3", marks=requires_s3, id="s3"),
    pytest.param("gs", marks=requires_gcs, id="gs"),
    pytest.param("az", marks=requires_azure, id="az"),
    pytest.param("http", id="http"),
]


@pytest.mark.parametrize("other", OTHERS)
def test_migrate_between_the_warehouse_and_another_backend(
    other: str, warehouse: HookedProject, tmp_path: Path, api: StateApiServer
) -> None:
    settings = Settings(api_key=KEY, api_base_url=api.base_url)

    def table(n: int) -> StateBackend:
        uri = f"warehouse:{warehouse.schema}.orc_migrate_{n}"
        return backend_for_uri(uri, settings, workdir=tmp_path)

    # warehouse -> other -> warehouse
    first = table(1)
    first.update(RECORDS)
    assert first.load() == RECORDS
    there = opener(other, tmp_path, api)
    result = migrate(first, there)
    assert (result.sent, result.total) == (len(RECORDS), len(RECORDS))
    assert there.load() == RECORDS
    back = table(2)
    migrate(there, back)
    assert back.load() == RECORDS

    # other -> warehouse -> other
    source = opener(other, tmp_path, api)
    source.init()
    source.update(RECORDS)
    into = table(3)
    result = migrate(source, into)
    assert (result.sent, result.total) == (len(RECORDS), len(RECORDS))
    assert into.load() == RECORDS
    out = opener(other, tmp_path, api)
    migrate(into, out)
    assert out.load() == RECORDS

    for n in (1, 2, 3):
        assert keys_in(warehouse, f"{warehouse.schema}.orc_migrate_{n}") == sorted(RECORDS)


@pytest.mark.parametrize("target", TARGETS)
def test_orc_state_migrate_command_with_the_warehouse(tmp_path: Path, target: str) -> None:
    """`orc state migrate` opens the warehouse with the dbt project of the current
    directory: a state file into a table and back."""
    project = stage(tmp_path, target)
    try:
        (tmp_path / "state.json").write_text(dump_state(RECORDS))
        uri = f"warehouse:{project.schema}.orc_migrated"
        done = project.orc("state", "migrate", "--from", str(tmp_path / "state.json"), "--to", uri)
        assert done.stdout.splitlines()[-1] == f"Copied 3 records to {uri} (3 there now)"
        rows = project.query(f"select state_key, item from {project.schema}.orc_migrated")
        assert sorted(str(key) for key, _ in rows) == sorted(RECORDS)
        items = {str(key): json.loads(str(item)) for key, item in rows}
        # Fields orc does not model travel in the row's item as they were.
        assert items["model.p.orders"]["written_by"] == "dbt-orchestra"
        assert items["model.p.orders"]["nested"] == {"list": [1, "two", None]}

        project.orc("state", "migrate", "--from", uri, "--to", str(tmp_path / "back.json"))
        assert parse_state((tmp_path / "back.json").read_text(), "back.json") == RECORDS
    finally:
        project.drop()
