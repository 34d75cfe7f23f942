"""The claims board of the object store backends against the real emulators (moto S3,
fake-gcs-server, Azurite, started by scripts/with-moto.sh, with-gcs.sh and with-azurite.sh):
`<key>.claims` beside the document, written with the same conditional writes as the
document, by overlapping runs in real processes. Each store is skipped when its emulator is
not running."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.claims import Claim, parse_board, take
from orchestra_dbt_py.core.document import dump_state
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_azure_uri
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend
from tests.support.claim_contention import check_contention, contend, run_contenders
from tests.support.cloud_stores import (
    KEY,
    azure_service,
    gcs_client,
    new_container,
    new_gcs_bucket,
    requires_azure,
    requires_gcs,
)
from tests.support.state_servers import new_bucket, requires_s3, s3_client

BOARD = f"{KEY}.claims"
T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
STORES = [
    pytest.param("s3", marks=requires_s3),
    pytest.param("gcs", marks=requires_gcs),
    pytest.param("azure", marks=requires_azure),
]
Taking = Callable[[dict[str, Claim]], tuple[dict[str, Claim], list[str]]]


# --- the stores, opened by the backends and read directly -------------------------------------


def open_store(kind: str, place: str, **retry: Any) -> ObjectStoreBackend:
    """The backend of store `kind` for KEY in bucket or container `place`."""
    if kind == "s3":
        from orchestra_dbt_py.state.s3 import S3Backend

        return S3Backend(place, KEY, **retry)
    if kind == "gcs":
        from orchestra_dbt_py.state.gcs import GcsBackend

        return GcsBackend(place, KEY, **retry)
    from orchestra_dbt_py.state.azure import AzureBlobBackend

    return AzureBlobBackend(parse_azure_uri(f"az://{place}/{KEY}"), **retry)


def raw(kind: str, place: str, key: str) -> tuple[bytes, str] | None:
    """An object's bytes and version, read without the backend (None: no object)."""
    if kind == "s3":
        client = s3_client()
        try:
            found = client.get_object(Bucket=place, Key=key)
        except client.exceptions.NoSuchKey:
            return None
        return found["Body"].read(), found["ETag"]
    if kind == "gcs":
        blob = gcs_client().bucket(place).get_blob(key)
        return None if blob is None else (blob.download_as_bytes(), str(blob.generation))
    blob = azure_service().get_blob_client(place, key)
    if not blob.exists():
        return None
    download = blob.download_blob()
    return download.readall(), str(download.properties.etag)


def put_raw(kind: str, place: str, key: str, data: bytes) -> None:
    if kind == "s3":
        s3_client().put_object(Bucket=place, Key=key, Body=data)
    elif kind == "gcs":
        gcs_client().bucket(place).blob(key).upload_from_string(data)
    else:
        azure_service().get_blob_client(place, key).upload_blob(data, overwrite=True)


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def place(kind: str) -> str:
    if kind == "s3":
        return new_bucket("orc-claims")
    return new_gcs_bucket("orc-claims") if kind == "gcs" else new_container("orc-claims")


def claim(run_id: str) -> Claim:
    return Claim(run_id, "ci-host", 42, "ana@ci-host", T0, T0 + timedelta(minutes=5))


def taking(keys: list[str], run_id: str) -> Taking:
    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], list[str]]:
        taken = take(board, keys, claim(run_id), T0)
        return taken.board, taken.held

    return change


def board_of(backend: ObjectStoreBackend) -> dict[str, Claim]:
    board: dict[str, Claim] = backend.change_claims(lambda board: (board, board))
    return board


# --- one run at a time -------------------------------------------------------------------------


def test_claims_round_trip_beside_the_document(kind: str, place: str) -> None:
    store = open_store(kind, place)
    assert board_of(store) == {}
    assert raw(kind, place, BOARD) is None  # reading an empty board writes nothing
    store.init()
    assert store.change_claims(taking(["a", "b"], "r1")) == ["a", "b"]
    stored = raw(kind, place, BOARD)
    assert stored is not None
    assert parse_board(stored[0].decode()) == {"a": claim("r1"), "b": claim("r1")}
    other = open_store(kind, place)
    assert other.change_claims(taking(["a", "c"], "r2")) == ["c"]
    assert set(board_of(store)) == {"a", "b", "c"}
    # The document is never touched: older orcs keep reading it as it is.
    document = raw(kind, place, KEY)
    assert document is not None and document[0] == dump_state({}).encode()


def test_an_unchanged_board_is_not_rewritten(kind: str, place: str) -> None:
    store = open_store(kind, place)
    store.change_claims(taking(["a"], "r1"))
    before = raw(kind, place, BOARD)
    assert store.change_claims(taking(["a"], "r1")) == ["a"]
    assert raw(kind, place, BOARD) == before


def test_a_corrupt_board_is_an_error_and_left_alone(kind: str, place: str) -> None:
    put_raw(kind, place, BOARD, b'{"claims": {')
    store = open_store(kind, place)
    with pytest.raises(OrcError) as caught:
        store.change_claims(taking(["a"], "r1"))
    message = str(caught.value)
    assert message.startswith(f"the claims board {store.description}.claims is corrupt (not JSON")
    assert "delete it when no orc run is going on" in message and "\n" not in message
    stored = raw(kind, place, BOARD)
    assert stored is not None and stored[0] == b'{"claims": {'


def test_a_stale_conditional_write_is_refused_then_redone(kind: str, place: str) -> None:
    """Another run takes a claim between our read of the board and our write: the store
    refuses our write (the board is no longer at the version read), and the redone round
    keeps both claims."""
    waits: list[str] = []
    store = open_store(kind, place, on_wait=waits.append)
    store.change_claims(taking(["first"], "r1"))
    original_put = store._put
    refused: list[bool] = []

    def put_after_another_run(key: str, data: bytes, version: str | None) -> bool:
        if not refused:
            assert key == BOARD
            assert open_store(kind, place).change_claims(taking(["theirs", "ours"], "r2"))
            accepted = original_put(key, data, version)
            refused.append(not accepted)
            return accepted
        return original_put(key, data, version)

    store._put = put_after_another_run  # type: ignore[method-assign]
    assert store.change_claims(taking(["ours", "mine"], "r1")) == ["mine"]
    assert refused == [True]
    assert board_of(store) == {
        "first": claim("r1"),
        "theirs": claim("r2"),
        "ours": claim("r2"),
        "mine": claim("r1"),
    }
    assert waits == []  # a redone claim is not worth a line


# --- overlapping runs --------------------------------------------------------------------------


def _contender(
    kind: str, place: str, run: int, clock: Synchronized[int], folder: Path, start: Barrier
) -> None:
    # Many runs on one object lose many races: allow them all, with short pauses.
    store = open_store(kind, place, max_attempts=1000, max_backoff_seconds=0.2)
    contend(store, run, clock, folder, start)


def test_overlapping_runs_in_processes_never_hold_a_key_together(
    kind: str, place: str, tmp_path: Path
) -> None:
    runs = 4
    ctx = multiprocessing.get_context("spawn")
    run_contenders(ctx, _contender, [kind, place], tmp_path / "runs", runs)
    check_contention(tmp_path / "runs", runs, board_of(open_store(kind, place)))
