"""The contract every state backend keeps, written once and run against each of them on a
real server or file (tests/support/backends.py): a local file, S3 (moto), GCS
(fake-gcs-server), Azure Blob (Azurite), the Orchestra API (a real local HTTP server), and
the warehouse table on DuckDB and on PostgreSQL.

A case that holds only for some backends runs on the backends whose declared capabilities
(`CAPABILITIES`) say it holds, and the declarations themselves are checked against the
backends. What only one backend does is tested in that backend's own file."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.claims import Claim, parse_board, release, take
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.local import LocalFileBackend
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend
from orchestra_dbt_py.state.transfer import migrate, push
from tests.support.backends import (
    API_KEY,
    CAPABILITIES,
    CORRUPT_BOARD,
    WRITERS,
    HttpPlace,
    LocalPlace,
    ObjectPlace,
    Place,
    Warehouse,
    assert_nothing_lost,
    kinds,
    record,
    warehouse_session,
    write_rounds,
    write_rounds_at,
)
from tests.support.cloud_stores import RECORDED_AT, RECORDS
from tests.support.state_servers import StateApiServer, state_api_server

NewPlace = Callable[[], Place]
CLASSES = {
    "local": "LocalFileBackend",
    "s3": "S3Backend",
    "gcs": "GcsBackend",
    "azure": "AzureBlobBackend",
    "http": "HttpBackend",
    "duckdb": "WarehouseBackend",
    "postgres": "WarehouseBackend",
}


# --- the backends: one kind per module-wide parameter, a fresh place per test ---------------


@pytest.fixture(scope="module")
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def api() -> Iterator[StateApiServer]:
    with state_api_server(API_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def warehouse(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse | None]:
    """For a warehouse kind, its staged project and dbt session, shared by the module's
    tests of that kind (each writes its own tables)."""
    if kind not in ("duckdb", "postgres"):
        yield None
        return
    with warehouse_session(tmp_path_factory.mktemp(f"contract-{kind}"), kind) as staged:
        yield staged


@pytest.fixture
def new_place(
    kind: str, warehouse: Warehouse | None, api: StateApiServer, tmp_path: Path
) -> NewPlace:
    """Makes a fresh, empty place of the kind (the HTTP API has one place: it is emptied)."""
    count = iter(range(1000))

    def make() -> Place:
        if kind == "local":
            return LocalPlace(tmp_path / f"place-{next(count)}")
        if kind in ("s3", "gcs", "azure"):
            return ObjectPlace(kind)
        if kind == "http":
            return HttpPlace(api, tmp_path / f"place-{next(count)}")
        assert warehouse is not None
        return warehouse.new_place()

    return make


@pytest.fixture
def place(new_place: NewPlace) -> Place:
    return new_place()


def every(where: Callable[[Any], bool] = lambda _: True) -> pytest.MarkDecorator:
    """Run a test on every backend kind whose capabilities satisfy `where`."""
    return pytest.mark.parametrize("kind", kinds(where), indirect=True)


# --- what each backend declares --------------------------------------------------------------


@every()
def test_declared_capabilities_are_the_backends_own(place: Place) -> None:
    backend = place.open()
    assert type(backend).__name__ == CLASSES[place.kind]
    assert place.where in backend.description
    capabilities = CAPABILITIES[place.kind]
    reason = backend.no_claims_reason
    assert (reason is None) == capabilities.claims
    if reason is not None:  # the API: overlapping runs cannot coordinate through it
        assert reason == "the Orchestra API offers no conditional write"
    assert isinstance(backend, ObjectStoreBackend) == capabilities.conditional_writes
    assert (place.kind == "http") == capabilities.keeps_unsaved
    assert capabilities.writers == (
        "threads" if place.kind in ("duckdb", "postgres") else "processes"
    )


# --- the document ----------------------------------------------------------------------------


@every()
def test_round_trip(place: Place) -> None:
    backend = place.open()
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    assert backend.update(items) == items
    assert backend.load() == items
    assert place.open().load() == items  # another backend on the same place
    assert place.stored_keys() == set(items)
    newer = {"model.p.orders": record(1, "newer")}
    assert backend.update(newer, removals=["model.p.customers"]) == newer
    assert backend.load() == newer
    # An older record does not replace a newer one.
    assert backend.update({"model.p.orders": record(0, "older")}) == newer
    # ... nor does one from another writer, whose merge returns the newer one.
    assert place.open().update({"model.p.orders": record(0, "older")}) == newer
    assert place.open().load()["model.p.orders"].checksum == "newer"


@every(lambda capabilities: capabilities.creates_document)
def test_a_missing_document_reads_empty_and_init_creates_it(new_place: NewPlace) -> None:
    place = new_place()
    backend = place.open()
    assert backend.exists() is False
    assert backend.load() == {}
    assert backend.exists() is False  # reading creates nothing
    assert place.stored() is None
    assert backend.init() is True
    assert backend.exists() is True
    assert place.stored() == place.empty()
    assert place.open().load() == {}
    assert backend.init() is False
    # The first update creates a missing document too.
    other = new_place()
    other.open().update({"m": record()})
    assert other.stored_keys() == {"m"}


@every(lambda capabilities: not capabilities.creates_document)
def test_a_store_that_always_has_a_document_is_never_created(place: Place) -> None:
    backend = place.open()
    assert backend.exists() is True
    assert backend.load() == {}
    assert backend.init() is False
    backend.update({"m": record()})
    assert backend.init() is False
    assert set(backend.load()) == {"m"}


@every(lambda capabilities: capabilities.creates_document)
def test_init_never_overwrites(place: Place) -> None:
    place.corrupt()
    stored = place.corruption()
    assert stored is not None
    assert place.open().init() is False
    assert place.corruption() == stored


@every()
def test_a_corrupt_document_is_an_error_naming_it_and_never_overwritten(place: Place) -> None:
    place.corrupt()
    stored = place.corruption()
    backend = place.open()
    for action in (backend.load, lambda: backend.update({"m": record()})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert place.where in message
        assert place.corrupt_says in message
        assert "\n" not in message
    assert place.corruption() == stored


@every(lambda capabilities: capabilities.skips_unchanged_writes)
def test_an_unchanged_document_is_not_rewritten(place: Place) -> None:
    backend = place.open()
    backend.update({"m": record(5)})
    before = place.version()
    assert backend.update({"m": record(1)}) == {"m": record(5)}  # older: nothing changes
    assert place.version() == before


@every(lambda capabilities: capabilities.conditional_writes)
def test_a_stale_write_is_refused_then_merged(place: Place) -> None:
    """Another writer changes the document between our read and our write: the store
    refuses our write (the document is no longer at the version read), and the redone round
    merges both."""
    waits: list[str] = []
    backend = place.open(on_wait=waits.append)
    assert isinstance(backend, ObjectStoreBackend)
    backend.update({"first": record(0)})
    original_put = backend._put
    refused: list[bool] = []

    def put_after_someone_else(key: str, data: bytes, version: str | None) -> bool:
        if not refused:
            place.open().update({"theirs": record(1)})
            assert version is not None and version != place.version()
            accepted = original_put(key, data, version)
            refused.append(not accepted)
            return accepted
        return original_put(key, data, version)

    backend._put = put_after_someone_else  # type: ignore[method-assign]
    backend.update({"ours": record(2)})
    assert refused == [True]
    assert set(place.open().load()) == {"first", "theirs", "ours"}
    assert len(waits) == 1 and "another writer" in waits[0]


@every()
def test_concurrent_writers_lose_nothing(place: Place) -> None:
    """WRITERS writers at once, each adding records of its own and newer versions of one
    record they share: every record is kept, and the shared one is the newest."""
    place.open().init()
    if place.capabilities.writers == "threads":
        backend = place.open()
        barrier = threading.Barrier(WRITERS)
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(lambda index: write_rounds(backend, index, barrier), range(WRITERS)))
    else:
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(WRITERS)
        processes = [
            ctx.Process(target=write_rounds_at, args=(place.uri, place.settings, index, start))
            for index in range(WRITERS)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [process.exitcode for process in processes] == [0] * WRITERS
    assert_nothing_lost(place.open().load())


@every()
def test_migrate_out_and_back(new_place: NewPlace, tmp_path: Path) -> None:
    """Every item arrives as it was, fields orc does not model included, in a local file
    and back in a new place of the same kind."""
    source = new_place().open()
    source.update(RECORDS)
    there = LocalFileBackend(tmp_path / "migrated.json")
    result = migrate(source, there)
    assert (result.sent, result.total) == (len(RECORDS), len(RECORDS))
    assert there.load() == RECORDS
    back = new_place()
    result = migrate(there, back.open())
    assert (result.sent, result.total) == (len(RECORDS), len(RECORDS))
    assert back.where in result.target
    assert back.open().load() == RECORDS
    assert sorted(back.stored_keys()) == sorted(RECORDS)


@every(lambda capabilities: capabilities.keeps_unsaved)
def test_a_failed_save_keeps_the_records_for_push(new_place: NewPlace) -> None:
    place = new_place()
    backend = place.open()
    backend.update({"kept": record(0), "dropped": record(0)})
    place.fail_saves()
    with pytest.raises(OrcError) as caught:
        backend.update({"m1": record(1, "one"), "m2": record(2)}, removals=["dropped"])
    (unsaved,) = place.unsaved()
    assert f"orc state push {unsaved}" in str(caught.value)
    assert place.stored_keys() == {"kept", "dropped"}
    written = json.loads(unsaved.read_text())
    assert set(written["state"]) == {"m1", "m2"} and written["removed"] == ["dropped"]
    healed = new_place()  # the same API, mended and emptied
    healed.open().update({"kept": record(0), "dropped": record(0)})
    push(healed.open(), unsaved)
    assert healed.stored_keys() == {"kept", "m1", "m2"}


# --- the claims board ------------------------------------------------------------------------

CLAIMING = lambda capabilities: capabilities.claims  # noqa: E731


def claim(run_id: str) -> Claim:
    return Claim(
        run_id, "ci-host", 42, "ana@ci-host", RECORDED_AT, RECORDED_AT + timedelta(minutes=5)
    )


def taking(keys: list[str], run_id: str) -> Callable[[dict[str, Claim]], Any]:
    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], list[str]]:
        taken = take(board, keys, claim(run_id), RECORDED_AT)
        return taken.board, taken.held

    return change


@every(CLAIMING)
def test_claims_round_trip_beside_the_document(place: Place) -> None:
    backend = place.open()
    assert backend.read_claims() == {}
    assert place.board() is None  # reading an empty board writes nothing
    assert backend.change_claims(taking(["a", "b"], "r1")) == ["a", "b"]
    stored = place.board_text()
    assert stored is not None
    assert parse_board(stored) == {"a": claim("r1"), "b": claim("r1")}
    # Claims make no document: it is never touched, and older orcs keep reading it as it is.
    assert place.stored() is None
    assert backend.init() is True
    other = place.open()
    assert other.change_claims(taking(["a", "c"], "r2")) == ["c"]
    assert backend.read_claims() == {"a": claim("r1"), "b": claim("r1"), "c": claim("r2")}
    other.change_claims(lambda board: (release(board, ["a", "c"], "r2"), None))
    assert backend.read_claims() == {"a": claim("r1"), "b": claim("r1")}
    assert place.stored() == place.empty()


@every(CLAIMING)
def test_an_unchanged_board_is_not_rewritten(place: Place) -> None:
    backend = place.open()
    backend.change_claims(taking(["a"], "r1"))
    before = place.board()
    assert backend.change_claims(taking(["a"], "r1")) == ["a"]
    backend.change_claims(lambda board: (release(board, ["a"], "someone-else"), None))
    assert place.board() == before


@every(CLAIMING)
def test_a_corrupt_board_is_a_one_line_error_and_left_alone(place: Place) -> None:
    place.put_board(CORRUPT_BOARD)
    before = place.board()
    with pytest.raises(OrcError) as caught:
        place.open().change_claims(taking(["a"], "r1"))
    message = str(caught.value)
    assert message.startswith(f"{place.board_where} is corrupt (not JSON"), message
    assert "when no orc run is going on" in message and "\n" not in message
    assert place.board() == before
    assert place.board_text() == CORRUPT_BOARD


@every(lambda capabilities: capabilities.claims and capabilities.conditional_writes)
def test_a_stale_board_write_is_refused_then_redone(place: Place) -> None:
    """Another run takes a claim between our read of the board and our write: the store
    refuses our write, and the redone round keeps both runs' claims."""
    waits: list[str] = []
    backend = place.open(on_wait=waits.append)
    assert isinstance(backend, ObjectStoreBackend)
    backend.change_claims(taking(["first"], "r1"))
    original_put = backend._put
    refused: list[bool] = []

    def put_after_another_run(key: str, data: bytes, version: str | None) -> bool:
        if not refused:
            assert key.endswith(".claims")
            assert place.open().change_claims(taking(["theirs", "ours"], "r2"))
            accepted = original_put(key, data, version)
            refused.append(not accepted)
            return accepted
        return original_put(key, data, version)

    backend._put = put_after_another_run  # type: ignore[method-assign]
    assert backend.change_claims(taking(["ours", "mine"], "r1")) == ["mine"]
    assert refused == [True]
    assert place.open().read_claims() == {
        "first": claim("r1"),
        "theirs": claim("r2"),
        "ours": claim("r2"),
        "mine": claim("r1"),
    }
    assert waits == []  # a redone claim is not worth a line


@every(lambda capabilities: not capabilities.claims)
def test_a_backend_without_claims_says_why_and_is_never_asked(place: Place) -> None:
    backend = place.open()
    assert backend.no_claims_reason == "the Orchestra API offers no conditional write"
    with pytest.raises(NotImplementedError):
        backend.read_claims()
