"""The GCS and Azure Blob backends without a server: their URIs, how their clients are
made, the missing extras, and the errors the emulators cannot produce (GCS has no access
control in fake-gcs-server; Azure's DefaultAzureCredential needs Azure itself), raised by
fake clients the way the client libraries raise them. The backends against real emulators
are in tests/integration/test_state_gcs.py and test_state_azure.py."""

from __future__ import annotations

import builtins
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.location import AzureBlob, parse_azure_uri, parse_gcs_uri, parse_location
from orchestra_dbt_py.state import open_backend

google_exceptions = pytest.importorskip("google.api_core.exceptions")
azure_exceptions = pytest.importorskip("azure.core.exceptions")

URI_FORMS = "abfss://container@account.dfs.core.windows.net/path or az://container/path"


# --- URIs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gs://bucket/state.json", ("bucket", "state.json")),
        ("GS://my-bucket/deep/path/orc.json", ("my-bucket", "deep/path/orc.json")),
    ],
)
def test_parse_gcs_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_gcs_uri(uri) == expected
    location = parse_location(uri, Path("/"))
    assert location.kind == "gcs" and location.bucket_and_key == expected


@pytest.mark.parametrize("uri", ["gs://bucket", "gs://bucket/", "gs:///key", "gs://b/k?x=1"])
def test_parse_gcs_uri_rejects(uri: str) -> None:
    with pytest.raises(OrcError, match=re.escape("gs://bucket/path/state.json")):
        parse_location(uri, Path("/"))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "az://state/orc/state.json",
            AzureBlob("az://state/orc/state.json", "state", "orc/state.json"),
        ),
        (
            "abfss://state@MyAccount.dfs.core.windows.net/orc.json",
            AzureBlob(
                "abfss://state@myaccount.dfs.core.windows.net/orc.json",
                "state",
                "orc.json",
                "myaccount",
            ),
        ),
        (
            "ABFSS://c@acct.blob.core.chinacloudapi.cn/a/b.json",
            AzureBlob(
                "abfss://c@acct.blob.core.chinacloudapi.cn/a/b.json",
                "c",
                "a/b.json",
                "acct",
                "core.chinacloudapi.cn",
            ),
        ),
    ],
)
def test_parse_azure_uri(uri: str, expected: AzureBlob) -> None:
    assert parse_azure_uri(uri) == expected
    location = parse_location(uri, Path("/"))
    assert location.kind == "azure" and location.azure_blob == expected


@pytest.mark.parametrize(
    "uri",
    [
        "az://container",
        "az://container/",
        "az://c/dir/",
        "abfss://c@acct.dfs.core.windows.net",
        "abfss://acct.dfs.core.windows.net/x.json",
        "abfss://c@acct.example.com/x.json",
        "az://c/x.json?sv=2024&sig=secret",
    ],
)
def test_parse_azure_uri_rejects(uri: str) -> None:
    with pytest.raises(OrcError, match=re.escape(URI_FORMS)):
        parse_location(uri, Path("/"))


@pytest.mark.parametrize(
    "uri",
    ["az://c/x.json?sv=2024&sig=SECRET", "https://acct.blob.core.windows.net/c/x.json?sig=SECRET"],
)
def test_a_rejected_uri_is_shown_without_its_query_string(uri: str) -> None:
    with pytest.raises(OrcError) as caught:
        parse_location(uri, Path("/"))
    assert "SECRET" not in str(caught.value) and "x.json?..." in str(caught.value)


def test_one_line_drops_query_strings_where_tokens_live() -> None:
    text = "GET https://a.blob.core.windows.net/c/x.json?sv=1&sig=SECRET failed\n  at line 2"
    assert one_line(text) == "GET https://a.blob.core.windows.net/c/x.json?... failed at line 2"


# --- the missing extras -----------------------------------------------------------------------


def without(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    real_import = builtins.__import__

    def blocked(name: str, *args: Any, **kwargs: Any) -> Any:
        if any(name == p or name.startswith(f"{p}.") for p in packages):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)


def test_a_missing_gcs_library_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without(monkeypatch, "google.cloud")
    with pytest.raises(OrcError, match=re.escape("orchestra-dbt-py[gcs]")):
        open_backend(Settings(state_file="gs://bucket/state.json"))


@pytest.mark.parametrize("package", ["azure.storage.blob", "azure.identity"])
def test_a_missing_azure_library_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    without(monkeypatch, package)
    with pytest.raises(OrcError, match=re.escape("orchestra-dbt-py[azure]")):
        open_backend(Settings(state_file="abfss://c@acct.dfs.core.windows.net/s.json"))


# --- making the clients -----------------------------------------------------------------------


def test_gcs_without_credentials_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from google.auth.compute_engine import _metadata

    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)  # never ask a metadata server
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    with pytest.raises(OrcError) as caught:
        open_backend(Settings(state_file="gs://bucket/state.json"))
    message = str(caught.value)
    assert message.startswith("no usable Google Cloud credentials to open gs://bucket/state.json")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "\n" not in message


def azure_backend(uri: str, environ: dict[str, str]) -> Any:
    from orchestra_dbt_py.state.azure import AzureBlobBackend

    return AzureBlobBackend(parse_azure_uri(uri), environ=environ)


CONNECTION = (
    "DefaultEndpointsProtocol=https;AccountName=fromconn;AccountKey={key};"
    "EndpointSuffix=core.windows.net"
)
KEY = "c2VjcmV0LWtleS1ub3QtdG8tYmUtc2hvd24="


def test_az_takes_its_account_from_the_connection_string() -> None:
    backend = azure_backend(
        "az://state/s.json", {"AZURE_STORAGE_CONNECTION_STRING": CONNECTION.format(key=KEY)}
    )
    assert backend._blob(backend.key).url == "https://fromconn.blob.core.windows.net/state/s.json"
    assert backend.account == "fromconn"
    assert KEY not in repr(backend) and KEY not in backend.description


def test_az_without_a_connection_string_uses_the_account_and_default_credential() -> None:
    from azure.identity import DefaultAzureCredential

    backend = azure_backend("az://state/s.json", {"AZURE_STORAGE_ACCOUNT": "teamacct"})
    assert backend._blob(backend.key).url == "https://teamacct.blob.core.windows.net/state/s.json"
    assert isinstance(backend._client.credential, DefaultAzureCredential)


def test_abfss_uses_its_own_account_unless_the_connection_string_names_it() -> None:
    from azure.identity import DefaultAzureCredential

    other = {"AZURE_STORAGE_CONNECTION_STRING": CONNECTION.format(key=KEY)}
    backend = azure_backend("abfss://state@teamacct.dfs.core.windows.net/s.json", other)
    assert backend._blob(backend.key).url == "https://teamacct.blob.core.windows.net/state/s.json"
    assert isinstance(backend._client.credential, DefaultAzureCredential)
    same = azure_backend("abfss://state@fromconn.dfs.core.windows.net/s.json", other)
    assert not isinstance(same._client.credential, DefaultAzureCredential)


def test_az_without_an_account_says_where_to_give_one() -> None:
    with pytest.raises(OrcError) as caught:
        azure_backend("az://state/s.json", {})
    assert "AZURE_STORAGE_ACCOUNT" in str(caught.value)
    assert "abfss://state@<account>.dfs.core.windows.net/s.json" in str(caught.value)


def test_a_malformed_connection_string_is_never_echoed() -> None:
    secret = "AccountKey=" + KEY
    with pytest.raises(OrcError) as caught:
        azure_backend("az://state/s.json", {"AZURE_STORAGE_CONNECTION_STRING": secret})
    assert "not a valid connection string" in str(caught.value)
    assert KEY not in str(caught.value)


# --- errors the emulators cannot produce ------------------------------------------------------


class FakeBlob:
    """A google-cloud-storage Blob, or an azure BlobClient: reads return `data` (or raise
    it), writes raise `write`."""

    account_name = "teamacct"

    def __init__(self, data: bytes | Exception, write: Exception | None = None) -> None:
        self.data = data
        self.write = write
        self.generation: int | None = None

    def _read(self) -> bytes:
        if isinstance(self.data, Exception):
            raise self.data
        self.generation = 7
        return self.data

    # google-cloud-storage
    def download_as_bytes(self, **kwargs: Any) -> bytes:
        return self._read()

    def upload_from_string(self, data: bytes, **kwargs: Any) -> None:
        if self.write is not None:
            raise self.write

    def reload(self, **kwargs: Any) -> None:
        self._read()

    def bucket(self, name: str) -> FakeBlob:  # the client and the bucket are this blob
        return self

    def blob(self, key: str) -> FakeBlob:
        return self

    def get_blob_client(self, key: str) -> FakeBlob:  # the container is this blob too
        return self

    def exists(self) -> bool:
        return True

    # azure-storage-blob
    def download_blob(self, **kwargs: Any) -> Any:
        data = self._read()
        return SimpleNamespace(readall=lambda: data, properties=SimpleNamespace(etag='"1"'))

    def get_blob_properties(self, **kwargs: Any) -> None:
        self._read()

    def upload_blob(self, data: bytes, **kwargs: Any) -> None:
        if self.write is not None:
            raise self.write


def gcs_message(blob: FakeBlob, action: str = "load") -> str:
    from orchestra_dbt_py.state.gcs import GcsBackend

    backend = GcsBackend("team-bucket", "orc/state.json", client=blob)
    with pytest.raises(OrcError) as caught:
        backend.load() if action == "load" else backend.update({"m": RECORD})
    message = str(caught.value)
    assert "\n" not in message
    return message


RECORD = NodeRecord(last_updated=datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC))
STATE = b'{"state": {}}'


def test_gcs_denied_access_names_the_bucket_and_the_role() -> None:
    for blob, action in (
        (FakeBlob(google_exceptions.Forbidden("caller does not have access")), "load"),
        (FakeBlob(STATE, google_exceptions.Forbidden("no storage.objects.create")), "update"),
    ):
        message = gcs_message(blob, action)
        assert message.startswith("access to gs://team-bucket/orc/state.json was denied (403)")
        assert "roles/storage.objectUser" in message and "bucket team-bucket" in message


def test_gcs_refused_or_expired_credentials_say_how_to_get_new_ones() -> None:
    from google.auth.exceptions import RefreshError

    for error in (google_exceptions.Unauthorized("invalid token"), RefreshError("expired")):
        message = gcs_message(FakeBlob(error))
        assert message.startswith("no usable Google Cloud credentials to read gs://team-bucket")
        assert "gcloud auth application-default login" in message


def test_gcs_other_errors_show_the_status_and_connection_errors_the_cause() -> None:
    import requests

    busy = gcs_message(FakeBlob(google_exceptions.ServiceUnavailable("try later")))
    assert busy.startswith("GCS refused to read gs://team-bucket/orc/state.json (503")
    error = requests.ConnectionError("HTTPSConnectionPool(host='storage.example', port=443)")
    down = gcs_message(FakeBlob(error))
    assert down.startswith("cannot read gs://team-bucket/orc/state.json (HTTPSConnectionPool")
    assert "check the network" in down


def azure_message(blob: FakeBlob, action: str = "load") -> str:
    from orchestra_dbt_py.state.azure import AzureBlobBackend

    location = parse_azure_uri("abfss://state@teamacct.dfs.core.windows.net/orc.json")
    backend = AzureBlobBackend(location, client=blob)
    with pytest.raises(OrcError) as caught:
        backend.load() if action == "load" else backend.update({"m": RECORD})
    message = str(caught.value)
    assert "\n" not in message
    return message


def http_error(status: int, code: str) -> Exception:
    error = azure_exceptions.HttpResponseError(message=f"{code}\nRequestId:1\nTime:now")
    error.status_code = status
    error.error_code = code
    return error


def test_azure_without_usable_credentials_says_how_to_sign_in() -> None:
    # What DefaultAzureCredential raises when no credential in its chain is available.
    unavailable = azure_exceptions.ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tEnvironmentCredential: not configured"
    )
    message = azure_message(FakeBlob(unavailable))
    assert message.startswith("no usable Azure credentials to read abfss://state@teamacct")
    assert "az login" in message and "AZURE_STORAGE_CONNECTION_STRING" in message


def test_azure_refused_and_denied_are_told_apart() -> None:
    uri = "abfss://state@teamacct.dfs.core.windows.net/orc.json"
    refused = azure_message(FakeBlob(http_error(403, "AuthenticationFailed")))
    assert refused.startswith(f"the credentials for {uri} were refused (AuthenticationFailed)")
    denied = azure_message(
        FakeBlob(STATE, http_error(403, "AuthorizationPermissionMismatch")), "update"
    )
    assert denied.startswith(f"access to {uri} was denied (AuthorizationPermissionMismatch)")
    where = "Storage Blob Data Contributor role on container state of storage account teamacct"
    assert where in denied


def test_azure_other_errors_show_the_code_and_hide_signatures() -> None:
    busy = azure_message(FakeBlob(http_error(503, "ServerBusy")))
    assert busy.startswith("Azure refused to read abfss://state@teamacct")
    assert "(ServerBusy)" in busy
    error = azure_exceptions.ServiceRequestError(
        "Cannot connect to https://teamacct.blob.core.windows.net/state/orc.json?sv=1&sig=SECRET"
    )
    down = azure_message(FakeBlob(error))
    assert down.startswith("cannot read abfss://state@teamacct") and "SECRET" not in down


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("gs://bucket/orc/state.json", "gcs"),
        ("az://state/orc/state.json", "azure"),
        ("abfss://state@acct.dfs.core.windows.net/orc/state.json", "azure"),
    ],
)
def test_cloud_state_files_are_kept_as_written(tmp_path: Path, value: str, kind: str) -> None:
    from orchestra_dbt_py.config import load_settings

    settings = load_settings(tmp_path, {"ORCHESTRA_STATE_FILE": value})
    assert settings.state_file == value
    assert settings.location is not None and settings.location.kind == kind
