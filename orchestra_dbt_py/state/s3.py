"""The S3 backend: one JSON object in a bucket, kept consistent with conditional writes.

`state_file = "s3://bucket/key"`. boto3 is an optional dependency (`orchestra-dbt-py[s3]`)
and is imported only when this backend is opened. Credentials and region come from the usual
AWS chain (environment, `~/.aws`, instance or task role); `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_S3`) points the client at another S3-compatible endpoint, which boto3 reads
itself.

Concurrency: there is no lock. `update` reads the object and remembers its ETag, merges with
`merge_states`, and writes back with `If-Match: <etag>` (or `If-None-Match: *` when there was
no object yet). When another writer got there first S3 answers 412 PreconditionFailed (or 409
ConditionalRequestConflict while a competing write is in flight, or 404 when the object was
deleted meanwhile); the write is then redone from a fresh read, a bounded number of times with
jittered backoff, so no writer ever loses another's items.

A missing object reads as an empty document (`init` or the first `update` creates it). A
corrupt object is an error naming it and is never overwritten.

"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from orchestra_dbt_py.core.document import decode_document, dump_state, parse_state
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import StateBackend, backoff_seconds

__all__ = ["S3Backend"]

# Error codes that mean "someone else changed the object since we read it".
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"})


class S3Backend(StateBackend):
    """State kept in one S3 object, written with conditional requests."""

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        client: Any = None,
        on_wait: Callable[[str], None] | None = None,
        max_attempts: int = 12,
        backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 1.0,
    ) -> None:
        """`client` is a boto3 S3 client (one is made from the AWS chain when omitted);
        `on_wait`
        gets one message when a write has to be redone because another writer came first;
        `max_attempts` bounds the read-merge-write rounds of one `update`."""
        self.bucket = bucket
        self.key = key
        self.description = f"s3://{bucket}/{key}"
        self._client = client if client is not None else _make_client()
        self._on_wait = on_wait
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds

    def __repr__(self) -> str:
        return f"S3Backend({self.description!r})"

    # --- the StateBackend interface ----------------------------------------------------------

    def exists(self) -> bool:
        """True when the object is there (whatever it holds)."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:
            code = _error_code(error)
            if code in _MISSING_KEY_CODES:
                # A missing bucket answers HEAD with a bare 404 too: tell them apart.
                self._check_bucket()
                return False
            raise self._failure("read", error) from None
        return True

    def load(self) -> dict[str, NodeRecord]:
        """The document; a missing object is an empty one."""
        current, _ = self._read()
        return current or {}

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Merge `items` into the object and drop `removals` with a conditional write, redone
        from a fresh read whenever another writer changed the object in between. Creates the
        object when there is none. Returns the merged document."""
        told = False
        for attempt in range(self._max_attempts):
            current, etag = self._read()
            merged = merge_states(current or {}, items, removals)
            if current is not None and merged == current:
                return merged
            if self._put(dump_state(merged), etag):
                return merged
            if not told and self._on_wait is not None:
                self._on_wait(
                    f"another writer changed {self.description} while orc was saving; "
                    "merging with its changes and saving again"
                )
                told = True
            self._sleep(attempt)
        raise OrcError(
            f"could not save the state to {self.description}: other writers changed it "
            f"{self._max_attempts} times in a row while orc was saving; run the command again"
        )

    def init(self) -> bool:
        """Create an empty document unless the object exists (which is then never touched)."""
        for attempt in range(self._max_attempts):
            if self.exists():
                return False
            if self._put(dump_state({}), None):
                return True
            self._sleep(attempt)  # 409: a competing write is in flight; look again
        return False

    # --- internals ---------------------------------------------------------------------------

    def _read(self) -> tuple[dict[str, NodeRecord] | None, str | None]:
        """The whole parsed object and its ETag, or (None, None) when there is no object."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.key)
            data: bytes = response["Body"].read()
        except Exception as error:
            if _error_code(error) in _MISSING_KEY_CODES:
                return None, None
            raise self._failure("read", error) from None
        text = decode_document(data, self.description)
        return parse_state(text, self.description), response.get("ETag")

    def _put(self, text: str, etag: str | None) -> bool:
        """Write `text` if the object is still at `etag` (absent when None); False when
        another writer changed it first."""
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=text.encode("utf-8"),
                ContentType="application/json",
                **condition,
            )
        except Exception as error:
            code = _error_code(error)
            if code in _CONFLICT_CODES or (etag is not None and code in _MISSING_KEY_CODES):
                return False
            raise self._failure("write", error) from None
        return True

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            if _error_code(error) in _MISSING_KEY_CODES:
                raise self._no_bucket() from None
            raise self._failure("read", error) from None

    def _no_bucket(self) -> OrcError:
        return OrcError(
            f"the S3 bucket {self.bucket} does not exist (state file {self.description}): "
            "create the bucket or fix state_file"
        )

    def _sleep(self, attempt: int) -> None:
        time.sleep(backoff_seconds(attempt, self._backoff, self._max_backoff))

    def _failure(self, action: str, error: Exception) -> OrcError:
        """A one-line OrcError for an S3 or connection problem (never a secret)."""
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError

        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return OrcError(
                f"no usable AWS credentials to {action} {self.description}: configure them "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)"
            )
        code = _error_code(error)
        if code == "NoSuchBucket":
            return self._no_bucket()
        if code in _DENIED_CODES:
            return OrcError(
                f"access to {self.description} was denied ({code}): grant s3:GetObject, "
                f"s3:PutObject and s3:ListBucket on bucket {self.bucket}, or use other AWS "
                "credentials"
            )
        if code is not None:
            detail = _error_message(error)
            what = f"{code}: {detail}" if detail else code
            return OrcError(
                f"S3 refused to {action} {self.description} ({what}): check the bucket, its "
                "region and your AWS credentials"
            )
        detail = " ".join(str(error).split()) or type(error).__name__
        return OrcError(
            f"cannot {action} {self.description} ({detail}): check the network, the region "
            "and AWS_ENDPOINT_URL"
        )


def _make_client() -> Any:
    try:
        import boto3
    except ImportError:
        raise OrcError(
            "an s3:// state_file needs boto3: install orchestra-dbt-py[s3] "
            "(pip install 'orchestra-dbt-py[s3]')"
        ) from None
    try:
        return boto3.client("s3")
    except Exception as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise OrcError(
            f"cannot set up the S3 client ({detail}): check the AWS configuration "
            "(region, profile, AWS_ENDPOINT_URL)"
        ) from None


def _error_code(error: Exception) -> str | None:
    """The S3 error code of a botocore ClientError (e.g. `NoSuchKey`), else None."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    if code:
        return str(code)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None if status is None else str(status)


def _error_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return " ".join(str(response.get("Error", {}).get("Message") or "").split())
