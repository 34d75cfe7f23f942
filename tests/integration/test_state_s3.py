"""The S3 state backend against a real S3 server: the moto server that scripts/with-moto.sh
starts (`make test` runs it). Skipped when AWS_ENDPOINT_URL is not set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_s3_uri
from orchestra_dbt_py.state import open_backend
from orchestra_dbt_py.state.s3 import S3Backend
from tests.support.cloud_stores import ROUNDS, WRITERS, run_writers
from tests.support.state_servers import new_bucket, requires_s3, s3_client

pytestmark = requires_s3


def s3_at(uri: str, on_wait: Callable[[str], None] | None = None) -> S3Backend:
    return S3Backend(*parse_s3_uri(uri), on_wait=on_wait)


T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
KEY = "orc/state.json"


def record(seconds: int = 0, checksum: str | None = None) -> NodeRecord:
    return NodeRecord(
        last_updated=T0 + timedelta(seconds=seconds),
        checksum=checksum,
        sources={"source.p.raw.orders": T0, "source.p.raw.unmeasured": None},
        relation='"db"."main"."orders"',
    )


def raw_object(bucket: str, key: str = KEY) -> bytes:
    body: bytes = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture
def bucket() -> str:
    return new_bucket()


@pytest.fixture
def s3(bucket: str) -> S3Backend:
    return s3_at(f"s3://{bucket}/{KEY}")


def test_the_endpoint_comes_from_aws_endpoint_url(s3: S3Backend) -> None:
    import os

    assert s3._client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]


def test_round_trip(bucket: str) -> None:
    s3 = open_backend(Settings(state_file=f"s3://{bucket}/{KEY}"))
    assert isinstance(s3, S3Backend)
    assert s3.description == f"s3://{bucket}/{KEY}"
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    assert s3.update(items) == items
    assert s3.load() == items
    assert parse_state(raw_object(bucket).decode(), "raw") == items
    assert s3.update({"model.p.orders": record(1, "newer")}, removals=["model.p.customers"]) == {
        "model.p.orders": record(1, "newer")
    }
    assert s3.load() == {"model.p.orders": record(1, "newer")}
    # An older record does not replace a newer one.
    s3.update({"model.p.orders": record(0, "older")})
    assert s3.load()["model.p.orders"].checksum == "newer"


def test_a_missing_object_is_empty_and_init_creates_it(bucket: str, s3: S3Backend) -> None:
    assert s3.exists() is False
    assert s3.load() == {}
    assert s3.exists() is False  # reading creates nothing
    assert s3.init() is True
    assert s3.exists() is True
    assert raw_object(bucket) == dump_state({}).encode()
    assert s3.init() is False


def test_init_never_overwrites(bucket: str, s3: S3Backend) -> None:
    s3_client().put_object(Bucket=bucket, Key=KEY, Body=b"not json at all")
    assert s3.init() is False
    assert raw_object(bucket) == b"not json at all"


def test_update_creates_a_missing_object(bucket: str, s3: S3Backend) -> None:
    s3.update({"m": record()})
    assert set(parse_state(raw_object(bucket).decode(), "raw")) == {"m"}


def test_an_unchanged_document_is_not_rewritten(bucket: str, s3: S3Backend) -> None:
    s3.update({"m": record(5)})
    etag = s3_client().head_object(Bucket=bucket, Key=KEY)["ETag"]
    s3.update({"m": record(1)})  # older: the merge keeps what is there
    assert s3_client().head_object(Bucket=bucket, Key=KEY)["ETag"] == etag


def test_a_missing_bucket_is_an_error(s3: S3Backend) -> None:
    missing = s3_at("s3://orc-no-such-bucket-4711/state.json")
    for action in (missing.load, missing.exists, missing.init, lambda: missing.update({})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert "orc-no-such-bucket-4711 does not exist" in message
        assert "create the bucket" in message
        assert "\n" not in message


def test_a_corrupt_object_is_an_error_and_never_overwritten(bucket: str, s3: S3Backend) -> None:
    s3_client().put_object(Bucket=bucket, Key=KEY, Body=b'{"state": {"m": ')
    for action in (s3.load, lambda: s3.update({"m": record()})):
        with pytest.raises(OrcError) as caught:
            action()
        assert f"s3://{bucket}/{KEY}" in str(caught.value)
        assert "not valid JSON" in str(caught.value)
    assert raw_object(bucket) == b'{"state": {"m": '


def test_a_conflicting_write_is_merged_not_lost(bucket: str) -> None:
    """Another writer changes the object between our read and our write: the conditional
    write fails, and the retry merges both."""
    waits: list[str] = []
    s3 = s3_at(f"s3://{bucket}/{KEY}", on_wait=waits.append)
    s3.update({"first": record(0)})
    client = s3._client
    original_put = client.put_object
    interfered: list[bool] = []

    def put_after_someone_else(**kwargs: Any) -> Any:
        if not interfered:
            interfered.append(True)
            other = s3_at(f"s3://{bucket}/{KEY}")
            other.update({"theirs": record(1)})
        return original_put(**kwargs)

    client.put_object = put_after_someone_else
    try:
        s3.update({"ours": record(2)})
    finally:
        client.put_object = original_put
    assert set(s3.load()) == {"first", "theirs", "ours"}
    assert len(waits) == 1 and "another writer" in waits[0]


def _writer(bucket: str, index: int, barrier: Barrier) -> None:
    s3 = s3_at(f"s3://{bucket}/{KEY}")
    barrier.wait(timeout=60)
    for round_ in range(ROUNDS):
        s3.update(
            {
                f"model.p.w{index}_r{round_}": record(index),
                "model.p.shared": record(100 * round_ + index, f"w{index}_r{round_}"),
            }
        )


def test_concurrent_writers_in_processes_lose_nothing(bucket: str) -> None:
    s3_at(f"s3://{bucket}/{KEY}").init()
    run_writers(_writer, bucket)  # the S3 writer takes the bucket as its first argument
    items = s3_at(f"s3://{bucket}/{KEY}").load()
    expected = {f"model.p.w{i}_r{r}" for i in range(WRITERS) for r in range(ROUNDS)}
    assert set(items) == expected | {"model.p.shared"}
    newest = 100 * (ROUNDS - 1) + WRITERS - 1
    assert items["model.p.shared"].checksum == f"w{WRITERS - 1}_r{ROUNDS - 1}"
    assert items["model.p.shared"].last_updated == T0 + timedelta(seconds=newest)


def test_account_prefix_filters_what_is_read_and_written(bucket: str) -> None:
    uri = f"s3://{bucket}/{KEY}"
    s3_at(uri).update({"acct2.db.x": record(), "model.p.y": record()})
    settings = Settings(state_file=uri, integration_account_id="acct1", local_run=False)
    scoped = open_backend(settings)
    assert scoped.load() == {}
    merged = scoped.update(
        {"acct1.db.x": record(), "acct2.db.z": record()}, removals=["acct2.db.x"]
    )
    assert set(merged) == {"acct1.db.x"}
    assert set(s3_at(uri).load()) == {"acct1.db.x", "acct2.db.x", "model.p.y"}
