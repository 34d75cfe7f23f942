"""The GCS state backend against a real GCS emulator over HTTP: the fake-gcs-server that
scripts/with-gcs.sh starts (`make test` runs it), which honours generation preconditions.
Skipped when STORAGE_EMULATOR_HOST is not set. What every backend does (round trip, missing
object, init, corrupt object, stale generations, concurrent writers, migrate, claims) is the
backend contract's (test_backend_contract.py); what only GCS does is here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import parse_state
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_gcs_uri
from orchestra_dbt_py.state import backend_for_uri
from orchestra_dbt_py.state.gcs import GcsBackend
from tests.support.cloud_stores import (
    KEY,
    build_twice_with_state_at,
    marked,
    new_gcs_bucket,
    record,
    requires_gcs,
)
from tests.support.state_servers import new_bucket, requires_s3
from tests.support.tutorial import run_orc

pytestmark = requires_gcs


def gcs_at(uri: str, on_wait: Callable[[str], None] | None = None) -> GcsBackend:
    return GcsBackend(*parse_gcs_uri(uri), on_wait=on_wait)


@pytest.fixture
def bucket() -> str:
    return new_gcs_bucket()


@pytest.fixture
def gcs(bucket: str) -> GcsBackend:
    return gcs_at(f"gs://{bucket}/{KEY}")


def test_a_missing_bucket_is_an_error(gcs: GcsBackend) -> None:
    missing = gcs_at("gs://orc-no-such-bucket-4711/state.json")
    for action in (missing.load, missing.exists, missing.init, lambda: missing.update({})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert "GCS bucket orc-no-such-bucket-4711 does not exist" in message
        assert "create the bucket" in message
        assert "\n" not in message


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
