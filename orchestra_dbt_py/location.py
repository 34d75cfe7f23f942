"""Where the state lives, parsed once from `state_file`, ORCHESTRA_API_KEY or a URI given
to `orc state migrate` into one typed value that every command uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestra_dbt_py.errors import OrcError

__all__ = ["ORCHESTRA_URI", "StateLocation", "has_uri_scheme", "parse_location"]

# The Orchestra API (the HTTP backend); its server comes from ORCHESTRA_ENV or
# ORCHESTRA_API_BASE_URL and its key from ORCHESTRA_API_KEY.
ORCHESTRA_URI = "orchestra://"
WAREHOUSE_SCHEME = "warehouse:"
_FORMS = "a local path, s3://bucket/key, warehouse:<schema>.<table> or orchestra:// (the API)"
# A URI scheme of two or more characters (one letter would be a Windows drive).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")
# `<schema>.<table>` or `<database>.<schema>.<table>`, unquoted names.
_TABLE = re.compile(r"[^.\s\"'`]+(\.[^.\s\"'`]+){1,2}")

Kind = Literal["local", "s3", "http", "warehouse"]


@dataclass(frozen=True)
class StateLocation:
    """One state location. `target` is the absolute path of a local file, `bucket/key` of an
    S3 object, `[<database>.]<schema>.<table>` of a warehouse table, empty for the API."""

    kind: Kind
    target: str = ""

    @property
    def path(self) -> Path:
        return Path(self.target)

    @property
    def s3_object(self) -> tuple[str, str]:
        bucket, _, key = self.target.partition("/")
        return bucket, key


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
            f"state location {text} uses a scheme orc does not support: use {_FORMS}; set "
            "ORCHESTRA_API_BASE_URL to reach another Orchestra-compatible server"
        )
    path = Path(text).expanduser()
    return StateLocation("local", str(path if path.is_absolute() else base / path))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into bucket and key; OrcError when it does not name an object."""
    if not uri.lower().startswith("s3://"):
        raise OrcError(f"{uri} is not an S3 URI: write it as s3://bucket/path/state.json")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/") or "?" in uri or "#" in uri:
        raise OrcError(
            f"state_file {uri} does not name an S3 object: write it as s3://bucket/path/state.json"
        )
    return bucket, key
