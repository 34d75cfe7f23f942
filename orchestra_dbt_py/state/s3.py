"""The S3 backend: one JSON object in a bucket, kept consistent with conditional writes.

`state_file = "s3://bucket/key"`. boto3 is an optional dependency (`orchestra-dbt-py[s3]`)
and is imported only when this backend is opened. Credentials and region come from the usual
AWS chain (environment, `~/.aws`, instance or task role); `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_S3`) points the client at another S3-compatible endpoint, which boto3 reads
itself.

Concurrency and missing objects: see `objectstore` (conditional writes, re-read, merge and
retry). S3 conditions are `If-Match: <etag>`, or `If-None-Match: *` when there was no
object yet; another writer that got there first makes S3 answer 412 PreconditionFailed (or
409 ConditionalRequestConflict while a competing write is in flight, or 404 when the object
was deleted meanwhile).
"""

from __future__ import annotations

from typing import Any

from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend

__all__ = ["S3Backend"]

# Error codes that mean "someone else changed the object since we read it".
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"})


class S3Backend(ObjectStoreBackend):
    """State kept in one S3 object, written with conditional requests."""

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        client: Any = None,
        **retry: Any,
    ) -> None:
        """`client` is a boto3 S3 client (one is made from the AWS chain when omitted);
        `retry` takes `ObjectStoreBackend`'s keyword arguments (on_wait, attempts, backoff)."""
        super().__init__(f"s3://{bucket}/{key}", key, **retry)
        self.bucket = bucket
        self._client = client if client is not None else _make_client()

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
            raise self._failure("read", error, self.key) from None
        return True

    # --- the object store operations ---------------------------------------------------------

    def _get(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
        except Exception as error:
            if _error_code(error) in _MISSING_KEY_CODES:
                return None
            raise self._failure("read", error, key) from None
        return data, response.get("ETag")

    def _put(self, key: str, data: bytes, version: str | None) -> bool:
        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType="application/json",
                **condition,
            )
        except Exception as error:
            code = _error_code(error)
            if code in _CONFLICT_CODES or (version is not None and code in _MISSING_KEY_CODES):
                return False
            raise self._failure("write", error, key) from None
        return True

    # --- errors ------------------------------------------------------------------------------

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except Exception as error:
            if _error_code(error) in _MISSING_KEY_CODES:
                raise self._no_bucket() from None
            raise self._failure("read", error, self.key) from None

    def _no_bucket(self) -> OrcError:
        return OrcError(
            f"the S3 bucket {self.bucket} does not exist (state file {self.description}): "
            "create the bucket or fix state_file"
        )

    def _failure(self, action: str, error: Exception, key: str) -> OrcError:
        """A one-line OrcError for an S3 or connection problem (never a secret)."""
        uri = self._uri(key)
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError

        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return OrcError(
                f"no usable AWS credentials to {action} {uri}: configure them "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)"
            )
        code = _error_code(error)
        if code == "NoSuchBucket":
            return self._no_bucket()
        if code in _DENIED_CODES:
            return OrcError(
                f"access to {uri} was denied ({code}): grant s3:GetObject, "
                f"s3:PutObject and s3:ListBucket on bucket {self.bucket}, or use other AWS "
                "credentials"
            )
        if code is not None:
            detail = _error_message(error)
            what = f"{code}: {detail}" if detail else code
            return OrcError(
                f"S3 refused to {action} {uri} ({what}): check the bucket, its "
                "region and your AWS credentials"
            )
        detail = one_line(error)
        return OrcError(
            f"cannot {action} {uri} ({detail}): check the network, the region and AWS_ENDPOINT_URL"
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
        detail = one_line(error)
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
