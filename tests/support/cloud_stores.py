"""The cloud object store emulators for the state backend tests, started by the wrapper
scripts that `make test` runs: fake-gcs-server (scripts/with-gcs.sh sets
STORAGE_EMULATOR_HOST) and Azurite (scripts/with-azurite.sh sets AZURITE_BLOB_ENDPOINT and
AZURE_STORAGE_CONNECTION_STRING). Also what the tests of both stores share: records and
a stateful build of the tutorial with its state there."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from orchestra_dbt_py.core.records import NodeRecord

F = TypeVar("F", bound=Callable[..., Any])
T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
KEY = "orc/state.json"

GCS_REASON = (
    "needs the fake-gcs-server that `make test` starts "
    "(scripts/with-gcs.sh sets STORAGE_EMULATOR_HOST)"
)
AZURE_REASON = (
    "needs the Azurite server that `make test` starts "
    "(scripts/with-azurite.sh sets AZURITE_BLOB_ENDPOINT)"
)
requires_gcs = [
    pytest.mark.gcs,
    pytest.mark.skipif(not os.environ.get("STORAGE_EMULATOR_HOST"), reason=GCS_REASON),
]
requires_azure = [
    pytest.mark.azure,
    pytest.mark.skipif(not os.environ.get("AZURITE_BLOB_ENDPOINT"), reason=AZURE_REASON),
]


def marked(marks: list[Any]) -> Callable[[F], F]:
    """A decorator giving a test every mark of `marks` (such as `requires_s3`)."""

    def apply(test: F) -> F:
        for mark in marks:
            test = mark(test)
        return test

    return apply


def unique(prefix: str) -> str:
    """A fresh bucket or container name (lowercase letters, digits and hyphens)."""
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**12}"


def record(seconds: int = 0, checksum: str | None = None) -> NodeRecord:
    return NodeRecord(
        last_updated=T0 + timedelta(seconds=seconds),
        checksum=checksum,
        sources={"source.p.raw.orders": T0, "source.p.raw.unmeasured": None},
        relation='"db"."main"."orders"',
    )


# --- GCS --------------------------------------------------------------------------------------


def gcs_client() -> Any:
    from google.cloud import storage

    return storage.Client(project="orc-test")  # anonymous on the emulator


def new_gcs_bucket(prefix: str = "orc-test") -> str:
    name = unique(prefix)
    gcs_client().create_bucket(name)
    return name


# --- Azure ------------------------------------------------------------------------------------


def azure_service() -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])


def new_container(prefix: str = "orc-test") -> str:
    name = unique(prefix)
    azure_service().create_container(name)
    return name


# --- a stateful build of the tutorial -------------------------------------------------------


def build_twice_with_state_at(root: Path, state_uri: str) -> set[str]:
    """The tutorial (DuckDB) built twice by `orc dbt build` with its state at `state_uri`:
    the first run builds, the second reuses everything and executes nothing. Returns the
    nodes the first run recorded."""
    from tests.support.tutorial import make_project

    project = make_project(root, "duckdb")
    project.orc("dbt", "deps", "--quiet")
    project.orc("dbt", "run-operation", "load_raw_data")
    project.env.update({"ORCHESTRA_USE_STATEFUL": "true", "ORCHESTRA_STATE_FILE": state_uri})
    assert project.orc("state", "init").stdout.strip() == f"Created state at {state_uri}"
    first = project.build()
    assert first["summary"]["reuse"] == 0 and first["summary"]["build"] > 0
    second = project.build()
    assert second["summary"]["build"] == 0, second
    assert [n["unique_id"] for n in second["nodes"] if n["status"] is not None] == []
    assert not project.state_path.exists()  # the state went to the store, not a local file
    return {n["unique_id"] for n in first["nodes"] if n["status"] is not None}


RECORDED_AT = datetime(2026, 11, 22, 7, 31, 17, 250000, tzinfo=UTC)

# Records with every field set: stored, moved between backends and compared whole.
RECORDS = {
    "model.p.orders": NodeRecord(
        last_updated=RECORDED_AT,
        checksum="c0ffee",
        sources={
            "source.p.raw.orders": RECORDED_AT - timedelta(hours=1),
            "source.p.raw.other": None,
        },
        fingerprint="fp1",
        relation='"db"."main"."orders"',
        upstream={"model.p.stg_orders": RECORDED_AT - timedelta(minutes=5)},
        status="success",
        execution_time=1.5,
        extra={"written_by": "dbt-orchestra", "nested": {"list": [1, "two", None]}},
    ),
    "model.p.stg_orders": NodeRecord(last_updated=RECORDED_AT - timedelta(minutes=5)),
    "test.p.not_null_orders_id": NodeRecord(last_updated=RECORDED_AT, status="pass"),
}
