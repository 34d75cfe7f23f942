"""Where the state lives, parsed once from `state_file`, ORCHESTRA_API_KEY or a URI given
to `orc state migrate` into one typed value that every command uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestra_dbt_py.errors import OrcError

__all__ = [
    "ORCHESTRA_URI",
    "AzureBlob",
    "StateLocation",
    "has_uri_scheme",
    "parse_azure_uri",
    "parse_location",
]

# The Orchestra API (the HTTP backend); its server comes from ORCHESTRA_ENV or
# ORCHESTRA_API_BASE_URL and its key from ORCHESTRA_API_KEY.
ORCHESTRA_URI = "orchestra://"
WAREHOUSE_SCHEME = "warehouse:"
_FORMS = (
    "a local path, s3://bucket/key, gs://bucket/key, "
    "abfss://container@account.dfs.core.windows.net/path, az://container/path, "
    "warehouse:<schema>.<table> or orchestra:// (the API)"
)
# A URI scheme of two or more characters (one letter would be a Windows drive).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")
# `<schema>.<table>` or `<database>.<schema>.<table>`, unquoted names.
_TABLE = re.compile(r"[^.\s\"'`]+(\.[^.\s\"'`]+){1,2}")

# Azure: `abfss://<container>@<account>.dfs.<suffix>/<path>` (or `.blob.`), as Spark and
# Orchestra's dbt-orchestra write it, and `az://<container>/<path>` (the account from the
# environment when the backend is opened).
_ABFSS = re.compile(
    r"abfss://(?P<container>[^@/]+)@(?P<account>[a-z0-9]+)"
    r"\.(?P<service>dfs|blob)\.(?P<suffix>[^/]+)/(?P<blob>.+)",
    re.IGNORECASE,
)
_AZ = re.compile(r"az://(?P<container>[^/@]+)/(?P<blob>.+)", re.IGNORECASE)
_AZURE_FORMS = "abfss://container@account.dfs.core.windows.net/path or az://container/path"

Kind = Literal["local", "s3", "gcs", "azure", "http", "warehouse"]


@dataclass(frozen=True)
class StateLocation:
    """One state location. `target` is the absolute path of a local file, `bucket/key` of an
    S3 or GCS object, the URI of an Azure blob (`abfss://...` or `az://...`),
    `[<database>.]<schema>.<table>` of a warehouse table, empty for the API."""

    kind: Kind
    target: str = ""

    @property
    def path(self) -> Path:
        return Path(self.target)

    @property
    def bucket_and_key(self) -> tuple[str, str]:
        """The bucket and key of an S3 or GCS object."""
        bucket, _, key = self.target.partition("/")
        return bucket, key

    @property
    def s3_object(self) -> tuple[str, str]:
        return self.bucket_and_key

    @property
    def azure_blob(self) -> AzureBlob:
        return parse_azure_uri(self.target)


@dataclass(frozen=True)
class AzureBlob:
    """An Azure blob: `account` is None for `az://`, whose account comes from the
    environment; `suffix` is the endpoint suffix (`core.windows.net`)."""

    uri: str
    container: str
    blob: str
    account: str | None = None
    suffix: str = "core.windows.net"


def has_uri_scheme(value: str) -> bool:
    """True when `value` starts with a URI scheme such as `s3:`, `warehouse:` or `https:`."""
    return _SCHEME.match(value) is not None


def parse_location(text: str, base: Path) -> StateLocation:
    """The location `text` names; a relative local path is taken from `base`, `~` expanded.
    OrcError (one line, with the forms orc accepts) for anything else."""
    text = text.strip()
    lowered = text.lower()
    if not text:
        raise OrcError(f"an empty state location: give {_FORMS}")
    if lowered.startswith("orchestra:"):
        if lowered != ORCHESTRA_URI:
            raise OrcError(
                f"{text} is not a valid Orchestra API URI: write exactly orchestra:// (the server "
                "comes from ORCHESTRA_ENV or ORCHESTRA_API_BASE_URL)"
            )
        return StateLocation("http")
    if lowered.startswith("s3://"):
        return StateLocation("s3", "/".join(parse_s3_uri(text)))
    if lowered.startswith("gs://"):
        return StateLocation("gcs", "/".join(parse_gcs_uri(text)))
    if lowered.startswith(("abfss://", "az://")):
        return StateLocation("azure", parse_azure_uri(text).uri)
    if lowered.startswith(WAREHOUSE_SCHEME):
        name = text[len(WAREHOUSE_SCHEME) :]
        if not _TABLE.fullmatch(name):
            raise OrcError(
                f"state_file {text} does not name a table: write warehouse:<schema>.<table> "
                "(or warehouse:<database>.<schema>.<table>)"
            )
        return StateLocation("warehouse", name)
    if has_uri_scheme(text):
        raise OrcError(
            f"state location {_shown(text)} uses a scheme orc does not support: use {_FORMS}; set "
            "ORCHESTRA_API_BASE_URL to reach another Orchestra-compatible server"
        )
    path = Path(text).expanduser()
    return StateLocation("local", str(path if path.is_absolute() else base / path))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into bucket and key; OrcError when it does not name an object."""
    return _bucket_and_key(uri, "s3", "an S3")


def parse_gcs_uri(uri: str) -> tuple[str, str]:
    """Split `gs://bucket/key` into bucket and key; OrcError when it does not name an object."""
    return _bucket_and_key(uri, "gs", "a GCS")


def _bucket_and_key(uri: str, scheme: str, store: str) -> tuple[str, str]:
    prefix = f"{scheme}://"
    form = f"{prefix}bucket/path/state.json"
    if not uri.lower().startswith(prefix):
        raise OrcError(f"{uri} is not {store} URI: write it as {form}")
    bucket, _, key = uri[len(prefix) :].partition("/")
    if not bucket or not key or key.endswith("/") or "?" in uri or "#" in uri:
        raise OrcError(f"state_file {uri} does not name {store} object: write it as {form}")
    return bucket, key


def parse_azure_uri(uri: str) -> AzureBlob:
    """The blob `abfss://container@account.dfs.core.windows.net/path` or
    `az://container/path` names (the scheme and account lowercased); OrcError otherwise."""
    text = uri.strip()
    abfss = _ABFSS.fullmatch(text)
    az = None if abfss else _AZ.fullmatch(text)
    found = abfss or az
    if found is None or "?" in text or "#" in text or found["blob"].endswith("/"):
        raise OrcError(
            f"state_file {_shown(text)} does not name an Azure blob: write it as {_AZURE_FORMS}"
        )
    container, blob = found["container"], found["blob"]
    if abfss is None:
        return AzureBlob(f"az://{container}/{blob}", container, blob)
    account, suffix = abfss["account"].lower(), abfss["suffix"].lower()
    service = abfss["service"].lower()
    canonical = f"abfss://{container}@{account}.{service}.{suffix}/{blob}"
    return AzureBlob(canonical, container, blob, account, suffix)


def _shown(uri: str) -> str:
    """`uri` for an error message, without its query string, where a token could be."""
    path, query, _ = uri.partition("?")
    return f"{path}?..." if query else path
