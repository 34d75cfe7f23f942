"""The S3 state backend against a real S3 server: the moto server that scripts/with-moto.sh
starts (`make test` runs it). Skipped when AWS_ENDPOINT_URL is not set. What every backend
does (round trip, missing object, init, corrupt object, conflicts, concurrent writers,
migrate, claims) is the backend contract's (test_backend_contract.py); what only S3 does
is here."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_s3_uri
from orchestra_dbt_py.state import open_backend
from orchestra_dbt_py.state.s3 import S3Backend
from tests.support.cloud_stores import record
from tests.support.state_servers import new_bucket, requires_s3

pytestmark = requires_s3


def s3_at(uri: str, on_wait: Callable[[str], None] | None = None) -> S3Backend:
    return S3Backend(*parse_s3_uri(uri), on_wait=on_wait)


KEY = "orc/state.json"


@pytest.fixture
def bucket() -> str:
    return new_bucket()


@pytest.fixture
def s3(bucket: str) -> S3Backend:
    return s3_at(f"s3://{bucket}/{KEY}")


def test_the_endpoint_comes_from_aws_endpoint_url(s3: S3Backend) -> None:
    import os

    assert s3._client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]


def test_a_missing_bucket_is_an_error(s3: S3Backend) -> None:
    missing = s3_at("s3://orc-no-such-bucket-4711/state.json")
    for action in (missing.load, missing.exists, missing.init, lambda: missing.update({})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert "orc-no-such-bucket-4711 does not exist" in message
        assert "create the bucket" in message
        assert "\n" not in message


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
