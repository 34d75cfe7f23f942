"""The GCS state backend against a real GCS emulator over HTTP: the fake-gcs-server that
scripts/with-gcs.sh starts (`make test` runs it), which honours generation preconditions.
Skipped when STORAGE_EMULATOR_HOST is not set."""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import dump_state, parse_state
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_gcs_uri
from orchestra_dbt_py.state import backend_for_uri, open_backend
from orchestra_dbt_py.state.gcs import GcsBackend
from tests.support.cloud_stores import (
    KEY,
    assert_nothing_lost,
    build_twice_with_state_at,
    gcs_client,
    marked,
    new_gcs_bucket,
    record,
    requires_gcs,
    run_writers,
    write_rounds,
)
from tests.support.state_servers import new_bucket, requires_s3
from tests.support.tutorial import run_orc

pytestmark = requires_gcs


def gcs_at(uri: str, on_wait: Callable[[str], None] | None = None) -> GcsBackend:
    return GcsBackend(*parse_gcs_uri(uri), on_wait=on_wait)


def raw_object(bucket: str, key: str = KEY) -> bytes:
    data: bytes = gcs_client().bucket(bucket).blob(key).download_as_bytes()
    return data


def generation(bucket: str, key: str = KEY) -> int:
    blob = gcs_client().bucket(bucket).get_blob(key)
    assert blob is not None
    return int(blob.generation)


@pytest.fixture
def bucket() -> str:
    return new_gcs_bucket()


@pytest.fixture
def gcs(bucket: str) -> GcsBackend:
    return gcs_at(f"gs://{bucket}/{KEY}")


def test_round_trip(bucket: str) -> None:
    gcs = open_backend(Settings(state_file=f"gs://{bucket}/{KEY}"))
    assert isinstance(gcs, GcsBackend)
    assert gcs.description == f"gs://{bucket}/{KEY}"
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    assert gcs.update(items) == items
    assert gcs.load() == items
    assert parse_state(raw_object(bucket).decode(), "raw") == items
    assert gcs.update({"model.p.orders": record(1, "newer")}, removals=["model.p.customers"]) == {
        "model.p.orders": record(1, "newer")
    }
    assert gcs.load() == {"model.p.orders": record(1, "newer")}
    # An older record does not replace a newer one.
    gcs.update({"model.p.orders": record(0, "older")})
    assert gcs.load()["model.p.orders"].checksum == "newer"


def test_a_missing_object_is_empty_and_init_creates_it(bucket: str, gcs: GcsBackend) -> None:
    assert gcs.exists() is False
    assert gcs.load() == {}
    assert gcs.exists() is False  # reading creates nothing
    assert gcs.init() is True
    assert gcs.exists() is True
    assert raw_object(bucket) == dump_state({}).encode()
    assert gcs.init() is False


def test_init_never_overwrites(bucket: str, gcs: GcsBackend) -> None:
    gcs_client().bucket(bucket).blob(KEY).upload_from_string(b"not json at all")
    assert gcs.init() is False
    assert raw_object(bucket) == b"not json at all"


def test_an_unchanged_document_is_not_rewritten(bucket: str, gcs: GcsBackend) -> None:
    gcs.update({"m": record(5)})
    before = generation(bucket)
    gcs.update({"m": record(1)})  # older: the merge keeps what is there
    assert generation(bucket) == before


def test_a_missing_bucket_is_an_error(gcs: GcsBackend) -> None:
    missing = gcs_at("gs://orc-no-such-bucket-4711/state.json")
    for action in (missing.load, missing.exists, missing.init, lambda: missing.update({})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert "GCS bucket orc-no-such-bucket-4711 does not exist" in message
        assert "create the bucket" in message
        assert "\n" not in message


def test_a_corrupt_object_is_an_error_and_never_overwritten(bucket: str, gcs: GcsBackend) -> None:
    gcs_client().bucket(bucket).blob(KEY).upload_from_string(b'{"state": {"m": ')
    for action in (gcs.load, lambda: gcs.update({"m": record()})):
        with pytest.raises(OrcError) as caught:
            action()
        assert f"gs://{bucket}/{KEY}" in str(caught.value)
        assert "not valid JSON" in str(caught.value)
    assert raw_object(bucket) == b'{"state": {"m": '


def test_a_stale_generation_is_refused_then_merged(bucket: str) -> None:
    """Another writer changes the object between our read and our write: the emulator
    refuses our write (412, stale ifGenerationMatch), and the retry merges both."""
    waits: list[str] = []
    gcs = gcs_at(f"gs://{bucket}/{KEY}", on_wait=waits.append)
    gcs.update({"first": record(0)})
    original_put = gcs._put
    refused: list[bool] = []

    def put_after_someone_else(key: str, data: bytes, version: str | None) -> bool:
        if not refused:
            gcs_at(f"gs://{bucket}/{KEY}").update({"theirs": record(1)})
            assert version is not None and int(version) != generation(bucket)
            accepted = original_put(key, data, version)
            refused.append(not accepted)
            return accepted
        return original_put(key, data, version)

    gcs._put = put_after_someone_else  # type: ignore[method-assign]
    gcs.update({"ours": record(2)})
    assert refused == [True]
    assert set(gcs.load()) == {"first", "theirs", "ours"}
    assert len(waits) == 1 and "another writer" in waits[0]


def _writer(uri: str, index: int, barrier: Barrier) -> None:
    write_rounds(gcs_at(uri), index, barrier)


def test_concurrent_writers_in_processes_lose_nothing(bucket: str) -> None:
    uri = f"gs://{bucket}/{KEY}"
    gcs_at(uri).init()
    run_writers(_writer, uri)
    assert_nothing_lost(gcs_at(uri).load())


# --- `orc state migrate` and `orc dbt build` --------------------------------------------------


def orc(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    return run_orc(args, tmp_path, env).stdout.splitlines()[-1]


def test_orc_state_migrate_between_gcs_and_a_local_file(bucket: str, tmp_path: Path) -> None:
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    gcs_at(f"gs://{bucket}/{KEY}").update(items)
    done = orc(tmp_path, "state", "migrate", "--from", f"gs://{bucket}/{KEY}", "--to", "state.json")
    assert done == f"Copied 2 records to {tmp_path / 'state.json'} (2 there now)"
    assert parse_state((tmp_path / "state.json").read_text(), "local") == items
    back = f"gs://{bucket}/back.json"
    done = orc(tmp_path, "state", "migrate", "--from", "state.json", "--to", back)
    assert done == f"Copied 2 records to {back} (2 there now)"
    assert gcs_at(back).load() == items


@marked(requires_s3)
def test_orc_state_migrate_gcs_to_s3_through_a_local_file(bucket: str, tmp_path: Path) -> None:
    items = {"model.p.orders": record(0, "abc")}
    gcs_at(f"gs://{bucket}/{KEY}").update(items)
    s3 = f"s3://{new_bucket('orc-gcs')}/orc/state.json"
    orc(tmp_path, "state", "migrate", "--from", f"gs://{bucket}/{KEY}", "--to", "via.json")
    orc(tmp_path, "state", "migrate", "--from", "via.json", "--to", s3)
    assert backend_for_uri(s3, Settings()).load() == items
    again = f"gs://{bucket}/again.json"
    orc(tmp_path, "state", "migrate", "--from", s3, "--to", again)
    assert gcs_at(again).load() == items


def test_a_stateful_build_keeps_its_state_in_gcs(bucket: str, tmp_path: Path) -> None:
    uri = f"gs://{bucket}/orc/tutorial.json"
    recorded = build_twice_with_state_at(tmp_path, uri)
    assert recorded <= set(gcs_at(uri).load())
