"""The Azure Blob Storage backend: one JSON blob in a container, kept consistent with
conditional writes.

`state_file = "abfss://container@account.dfs.core.windows.net/path/state.json"` or
`"az://container/path/state.json"`. azure-storage-blob and azure-identity are optional
dependencies (`orchestra-dbt-py[azure]`), imported only when this backend is opened.

The client: with AZURE_STORAGE_CONNECTION_STRING set (and, for an `abfss://` URI, naming the
same account), that connection string, which also gives `az://` its account and may point
at another endpoint (Azurite); otherwise the account of the URI, or AZURE_STORAGE_ACCOUNT
for `az://`, at `https://<account>.blob.core.windows.net`, signed in with
DefaultAzureCredential (environment, workload or managed identity, `az login`).

Concurrency and missing blobs: see `objectstore` (conditional writes, re-read, merge and
retry). The version of a blob is its ETag; a write carries `If-Match: <etag>`, or
`If-None-Match: *` when there was no blob yet, and Azure answers 412 ConditionNotMet (409
BlobAlreadyExists for a blob created meanwhile) when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.location import AzureBlob
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend

__all__ = ["AzureBlobBackend", "make_container_client"]

_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
_ACCOUNT = "AZURE_STORAGE_ACCOUNT"
_INSTALL = (
    "an Azure state_file needs azure-storage-blob and azure-identity: install "
    "orchestra-dbt-py[azure] (pip install 'orchestra-dbt-py[azure]')"
)
# A key, SAS token or bearer token that does not authenticate (a 403 with any other code is
# a principal without the permission).
_REFUSED_CODES = frozenset({"AuthenticationFailed", "InvalidAuthenticationInfo"})
_CREDENTIALS_FIX = (
    "sign in with `az login`, set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, "
    f"run with a managed identity, or set {_CONNECTION_STRING}"
)


class AzureBlobBackend(ObjectStoreBackend):
    """State kept in one Azure blob, written with ETag conditions."""

    def __init__(
        self,
        location: AzureBlob,
        *,
        client: Any = None,
        environ: Mapping[str, str] | None = None,
        **retry: Any,
    ) -> None:
        """`client` is an `azure.storage.blob.ContainerClient` for the blob's container (by
        default made by `make_container_client` from `environ`, default the process
        environment); the other arguments are `ObjectStoreBackend`'s."""
        super().__init__(location.uri, location.blob, **retry)
        self.location = location
        self._client = client if client is not None else make_container_client(location, environ)
        self.container = location.container
        self.account = str(getattr(self._client, "account_name", None) or location.account)

    def exists(self) -> bool:
        """True when the blob is there (whatever it holds)."""
        try:
            self._blob(self.key).get_blob_properties()
        except Exception as error:
            if _error_code(error) == "BlobNotFound":
                return False
            raise self._failure("read", error, self.key) from None
        return True

    # --- the object store operations ---------------------------------------------------------

    def _blob(self, key: str) -> Any:
        return self._client.get_blob_client(key)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        try:
            download = self._blob(key).download_blob()
            data: bytes = download.readall()
        except Exception as error:
            if _error_code(error) == "BlobNotFound":
                return None
            raise self._failure("read", error, key) from None
        return data, str(download.properties.etag)

    def _put(self, key: str, data: bytes, version: str | None) -> bool:
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        condition: dict[str, Any] = (
            {"match_condition": MatchConditions.IfMissing}
            if version is None
            else {"match_condition": MatchConditions.IfNotModified, "etag": version}
        )
        try:
            self._blob(key).upload_blob(
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type="application/json"),
                **condition,
            )
        except Exception as error:
            code, status = _error_code(error), getattr(error, "status_code", None)
            if status == 412 or code in {"ConditionNotMet", "BlobAlreadyExists"}:
                return False
            if version is not None and code == "BlobNotFound":
                return False  # deleted since it was read: read again
            raise self._failure("write", error, key) from None
        return True

    # --- errors ------------------------------------------------------------------------------

    def _failure(self, action: str, error: Exception, key: str) -> OrcError:
        """A one-line OrcError for an Azure, credentials or connection problem (never a
        secret: neither the connection string nor a token is ever shown)."""
        uri = self._uri(key)
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

        code, status = _error_code(error), getattr(error, "status_code", None)
        where = f"container {self.container} of storage account {self.account}"
        if code == "ContainerNotFound":
            return OrcError(
                f"the Azure {where} does not exist (state file {self.description}): create "
                "the container or fix state_file"
            )
        if code in _REFUSED_CODES:
            return OrcError(
                f"the credentials for {uri} were refused ({code}): check the "
                f"account key or SAS token in {_CONNECTION_STRING}, or sign in again"
            )
        if status == 403:
            return OrcError(
                f"access to {uri} was denied ({code or status}): grant the "
                f"Storage Blob Data Contributor role on {where}, or use other credentials"
            )
        if isinstance(error, ClientAuthenticationError) or status == 401:
            return OrcError(f"no usable Azure credentials to {action} {uri}: {_CREDENTIALS_FIX}")
        if isinstance(error, HttpResponseError) and status is not None:
            return OrcError(
                f"Azure refused to {action} {uri} ({code or status}): check the "
                f"{where} and your Azure credentials"
            )
        detail = one_line(str(error).splitlines()[0] if str(error) else error)
        return OrcError(
            f"cannot {action} {uri} ({detail}): check the network, the account "
            f"name and {_CONNECTION_STRING}"
        )


def make_container_client(location: AzureBlob, environ: Mapping[str, str] | None = None) -> Any:
    """The ContainerClient for `location`: from AZURE_STORAGE_CONNECTION_STRING when it is set
    (and names the URI's account, if the URI names one), else at the account's endpoint with
    DefaultAzureCredential. OrcError when the packages or the account are missing."""
    import os

    env = os.environ if environ is None else environ
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError:
        raise OrcError(_INSTALL) from None
    connection = env.get(_CONNECTION_STRING, "").strip()
    if connection:
        try:
            service = BlobServiceClient.from_connection_string(connection)
        except (ValueError, TypeError):
            raise OrcError(
                f"{_CONNECTION_STRING} is not a valid connection string: copy it again from "
                "the storage account's Access keys, or unset it"
            ) from None
        if location.account is None or service.account_name == location.account:
            return service.get_container_client(location.container)
    account = location.account or env.get(_ACCOUNT, "").strip()
    if not account:
        raise OrcError(
            f"{location.uri} does not say which storage account: set {_ACCOUNT} (or "
            f"{_CONNECTION_STRING}), or write "
            f"abfss://{location.container}@<account>.dfs.core.windows.net/{location.blob}"
        )
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise OrcError(_INSTALL) from None
    endpoint = f"https://{account}.blob.{location.suffix}"
    service = BlobServiceClient(endpoint, credential=DefaultAzureCredential())
    return service.get_container_client(location.container)


def _error_code(error: Exception) -> str | None:
    """The Azure Storage error code of an error (e.g. `BlobNotFound`), else None."""
    code = getattr(error, "error_code", None)
    if code is None:
        return None
    return str(getattr(code, "value", code))
