"""The Azure Blob state backend against a real Azure Storage emulator over HTTP: the
Azurite that scripts/with-azurite.sh starts (`make test` runs it), reached through the
connection string it sets. Skipped when AZURITE_BLOB_ENDPOINT is not set. What every backend
does (round trip, missing blob, init, corrupt blob, stale ETags, concurrent writers, migrate,
claims) is the backend contract's (test_backend_contract.py); what only Azure does (the
`abfss://` form, a missing container, denied access) is here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import parse_state
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_azure_uri
from orchestra_dbt_py.state import backend_for_uri, open_backend
from orchestra_dbt_py.state.azure import AzureBlobBackend
from tests.support.cloud_stores import (
    KEY,
    azure_service,
    build_twice_with_state_at,
    marked,
    new_container,
    record,
    requires_azure,
)
from tests.support.state_servers import new_bucket, requires_s3
from tests.support.tutorial import run_orc

pytestmark = requires_azure
ACCOUNT = "devstoreaccount1"  # Azurite's development account


def az_at(uri: str, on_wait: Callable[[str], None] | None = None) -> AzureBlobBackend:
    return AzureBlobBackend(parse_azure_uri(uri), on_wait=on_wait)


def raw_blob(container: str, key: str = KEY) -> bytes:
    data: bytes = azure_service().get_blob_client(container, key).download_blob().readall()
    return data


@pytest.fixture
def container() -> str:
    return new_container()


def test_the_abfss_form_round_trips_in_the_same_blob(container: str) -> None:
    """The `az://` form runs the backend contract (test_backend_contract.py); the `abfss://`
    form of the same blob is opened here."""
    uri = f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/{KEY}"
    az = open_backend(Settings(state_file=uri))
    assert isinstance(az, AzureBlobBackend)
    assert az.description == uri
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    assert az.update(items) == items
    assert az.load() == items
    assert parse_state(raw_blob(container).decode(), "raw") == items
    assert az_at(f"az://{container}/{KEY}").load() == items
    assert az.update({"model.p.orders": record(1, "newer")}, removals=["model.p.customers"]) == {
        "model.p.orders": record(1, "newer")
    }
    assert az.load() == {"model.p.orders": record(1, "newer")}


def test_a_missing_container_is_an_error() -> None:
    missing = az_at(f"az://orc-no-such-container-4711/{KEY}")
    for action in (missing.load, missing.exists, missing.init, lambda: missing.update({})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert f"container orc-no-such-container-4711 of storage account {ACCOUNT}" in message
        assert "does not exist" in message and "create the container" in message
        assert "\n" not in message


def test_denied_access_names_the_container_and_never_the_key(container: str) -> None:
    real = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    key = real.split("AccountKey=")[1].split(";")[0]
    wrong = real.replace(key, "A" * len(key))
    az = AzureBlobBackend(
        parse_azure_uri(f"az://{container}/{KEY}"),
        environ={"AZURE_STORAGE_CONNECTION_STRING": wrong},
    )
    for action in (az.load, az.exists, lambda: az.update({"m": record()})):
        with pytest.raises(OrcError) as caught:
            action()
        message = str(caught.value)
        assert f"access to az://{container}/{KEY} was denied" in message
        assert f"container {container} of storage account {ACCOUNT}" in message
        assert key not in message and "A" * 20 not in message and "\n" not in message


# --- `orc state migrate` and `orc dbt build` --------------------------------------------------


def orc(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    return run_orc(args, tmp_path, env).stdout.splitlines()[-1]


def test_orc_state_migrate_between_azure_and_a_local_file(container: str, tmp_path: Path) -> None:
    items = {"model.p.orders": record(0, "abc"), "model.p.customers": record(3)}
    az_at(f"az://{container}/{KEY}").update(items)
    done = orc(tmp_path, "state", "migrate", "--from", f"az://{container}/{KEY}", "--to", "s.json")
    assert done == f"Copied 2 records to {tmp_path / 's.json'} (2 there now)"
    assert parse_state((tmp_path / "s.json").read_text(), "local") == items
    back = f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/back.json"
    done = orc(tmp_path, "state", "migrate", "--from", "s.json", "--to", back)
    assert done == f"Copied 2 records to {back} (2 there now)"
    assert az_at(back).load() == items


@marked(requires_s3)
def test_orc_state_migrate_azure_to_s3_through_a_local_file(container: str, tmp_path: Path) -> None:
    items = {"model.p.orders": record(0, "abc")}
    az_at(f"az://{container}/{KEY}").update(items)
    s3 = f"s3://{new_bucket('orc-azure')}/orc/state.json"
    orc(tmp_path, "state", "migrate", "--from", f"az://{container}/{KEY}", "--to", "via.json")
    orc(tmp_path, "state", "migrate", "--from", "via.json", "--to", s3)
    assert backend_for_uri(s3, Settings()).load() == items
    again = f"az://{container}/again.json"
    orc(tmp_path, "state", "migrate", "--from", s3, "--to", again)
    assert az_at(again).load() == items


def test_a_stateful_build_keeps_its_state_in_azure(container: str, tmp_path: Path) -> None:
    uri = f"az://{container}/orc/tutorial.json"
    recorded = build_twice_with_state_at(tmp_path, uri)
    assert recorded <= set(az_at(uri).load())
