"""The claims board of the object store backends against the real emulators (moto S3,
fake-gcs-server, Azurite, started by scripts/with-moto.sh, with-gcs.sh and with-azurite.sh),
changed by overlapping runs in real processes. Each store is skipped when its emulator is
not running. One run at a time (round trip, unchanged board, corrupt board, a stale write
refused) is the backend contract's (test_backend_contract.py)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.claims import Claim
from orchestra_dbt_py.location import parse_azure_uri
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend
from tests.support.claim_contention import check_contention, contend, run_contenders
from tests.support.cloud_stores import (
    KEY,
    new_container,
    new_gcs_bucket,
    requires_azure,
    requires_gcs,
)
from tests.support.state_servers import new_bucket, requires_s3

STORES = [
    pytest.param("s3", marks=requires_s3),
    pytest.param("gcs", marks=requires_gcs),
    pytest.param("azure", marks=requires_azure),
]


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


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def place(kind: str) -> str:
    if kind == "s3":
        return new_bucket("orc-claims")
    return new_gcs_bucket("orc-claims") if kind == "gcs" else new_container("orc-claims")


def board_of(backend: ObjectStoreBackend) -> dict[str, Claim]:
    board: dict[str, Claim] = backend.change_claims(lambda board: (board, board))
    return board


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
