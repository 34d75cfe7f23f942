"""The Google Cloud Storage backend: one JSON object in a bucket, kept consistent with
conditional writes.

`state_file = "gs://bucket/key"`. google-cloud-storage is an optional dependency
(`orchestra-dbt-py[gcs]`) and is imported only when this backend is opened. Credentials come
from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth
application-default login`, the service account of the machine); `STORAGE_EMULATOR_HOST`
points the client at an emulator, which the client library reads itself.

Concurrency and missing objects: see `objectstore` (conditional writes, re-read, merge and
retry). The version of an object is its generation; a write is conditional on
`ifGenerationMatch=<generation read>`, or `ifGenerationMatch=0` (must not exist) when there
was no object yet, and GCS answers 412 when another writer got there first.
"""

from __future__ import annotations

import os
from typing import Any

from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend

__all__ = ["GcsBackend"]

_CREDENTIALS_FIX = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service account key file, or run where a service account is attached"
)


class GcsBackend(ObjectStoreBackend):
    """State kept in one GCS object, written with generation preconditions."""

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        client: Any = None,
        **retry: Any,
    ) -> None:
        """`client` is a `google.cloud.storage.Client` (one is made from Application Default
        Credentials when omitted); the other arguments are `ObjectStoreBackend`'s."""
        super().__init__(f"gs://{bucket}/{key}", key, **retry)
        self.bucket = bucket
        self._client = client if client is not None else _make_client(self.description)

    def exists(self) -> bool:
        """True when the object is there (whatever it holds)."""
        from google.api_core.exceptions import NotFound

        try:
            self._blob(self.key).reload()
        except NotFound:
            self._check_bucket()
            return False
        except Exception as error:
            raise self._failure("read", error, self.key) from None
        return True

    # --- the object store operations ---------------------------------------------------------

    def _blob(self, key: str) -> Any:
        return self._client.bucket(self.bucket).blob(key)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        from google.api_core.exceptions import NotFound

        blob = self._blob(key)
        try:
            data: bytes = blob.download_as_bytes()
        except NotFound:
            self._check_bucket()  # a missing bucket answers 404 too: tell them apart
            return None
        except Exception as error:
            raise self._failure("read", error, key) from None
        if blob.generation is None:  # the download's x-goog-generation header
            raise OrcError(
                f"the server did not say which generation of {self._uri(key)} it returned, "
                "so orc cannot write it safely: check STORAGE_EMULATOR_HOST"
            )
        return data, str(blob.generation)

    def _put(self, key: str, data: bytes, version: str | None) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self._blob(key).upload_from_string(
                data,
                content_type="application/json",
                if_generation_match=0 if version is None else int(version),
            )
        except PreconditionFailed:
            return False
        except NotFound:
            self._check_bucket()
            return False  # the object was deleted since it was read: read again
        except Exception as error:
            raise self._failure("write", error, key) from None
        return True

    # --- errors ------------------------------------------------------------------------------

    def _check_bucket(self) -> None:
        """OrcError when the bucket does not exist. A caller who may not read the bucket's
        metadata (only its objects) cannot tell, and is taken at its word."""
        from google.api_core.exceptions import Forbidden

        try:
            found = self._client.bucket(self.bucket).exists()
        except Forbidden:
            return
        except Exception as error:
            raise self._failure("read", error, self.key) from None
        if not found:
            raise self._no_bucket()

    def _no_bucket(self) -> OrcError:
        return OrcError(
            f"the GCS bucket {self.bucket} does not exist (state file {self.description}): "
            "create the bucket or fix state_file"
        )

    def _failure(self, action: str, error: Exception, key: str) -> OrcError:
        """A one-line OrcError for a GCS, credentials or connection problem (never a
        secret)."""
        uri = self._uri(key)
        from google.api_core.exceptions import Forbidden, GoogleAPICallError, Unauthorized
        from google.auth.exceptions import DefaultCredentialsError, RefreshError

        if isinstance(error, DefaultCredentialsError | RefreshError | Unauthorized):
            return OrcError(
                f"no usable Google Cloud credentials to {action} {uri}: {_CREDENTIALS_FIX}"
            )
        if isinstance(error, Forbidden):
            return OrcError(
                f"access to {uri} was denied (403): grant roles/storage.objectUser "
                f"(storage.objects.get, create and delete) on bucket {self.bucket}, or use "
                "other Google Cloud credentials"
            )
        if isinstance(error, GoogleAPICallError):
            what = " ".join(str(part) for part in (error.code, error.reason) if part)
            what = what or type(error).__name__
            return OrcError(
                f"GCS refused to {action} {uri} ({what}): check the bucket and "
                "your Google Cloud credentials"
            )
        where = "STORAGE_EMULATOR_HOST" if os.environ.get("STORAGE_EMULATOR_HOST") else "proxy"
        return OrcError(
            f"cannot {action} {uri} ({one_line(error)}): check the network and the {where} settings"
        )


def _make_client(description: str) -> Any:
    try:
        from google.cloud import storage
    except ImportError:
        raise OrcError(
            "a gs:// state_file needs google-cloud-storage: install orchestra-dbt-py[gcs] "
            "(pip install 'orchestra-dbt-py[gcs]')"
        ) from None
    from google.auth.exceptions import DefaultCredentialsError

    try:
        # No project: reading and writing an object needs none (creating a bucket would).
        return storage.Client(project=None)
    except DefaultCredentialsError:
        raise OrcError(
            f"no usable Google Cloud credentials to open {description}: {_CREDENTIALS_FIX}"
        ) from None
    except Exception as error:
        raise OrcError(
            f"cannot set up the GCS client ({one_line(error)}): check the Google Cloud "
            "configuration (GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST)"
        ) from None
