"""Why a request to the state API failed, for the HTTP backend (`orchestra_dbt_py.state.http`).

Every failure of one request -- an exception while sending it or reading the answer, or an
answer that is not 2xx -- becomes one `Failure`: a short reason (what went wrong, for the
message in parentheses), a fix (what the user can do), and whether trying again may help.
The backend turns it into the one-line OrcError of a read or of a save; the texts here may
hold what a server sent, so the backend redacts the API key from the whole message.
"""

from __future__ import annotations

import email.utils
import http.client
from contextlib import suppress
from datetime import UTC, datetime

import requests
import urllib3.exceptions

__all__ = ["Failure", "failure_of_answer", "failure_of_exception", "retry_after"]

CHECK_NETWORK = "check the network and ORCHESTRA_ENV / ORCHESTRA_API_BASE_URL"
CHECK_TRANSFER = (
    "the connection broke mid-transfer, which is a network problem and not a wrong URL; check "
    "the network and any proxy or firewall in between"
)
CHECK_URL = "check ORCHESTRA_ENV / ORCHESTRA_API_BASE_URL"
CHECK_KEY = (
    "check that ORCHESTRA_API_KEY is a valid key for this Orchestra environment (ORCHESTRA_ENV)"
)
TRY_LATER = "the API is down or busy; wait a few minutes"


class Failure(Exception):
    """One request that failed: `reason` names the cause, `fix` what to do about it;
    `retry` when trying again may help (after `retry_after` seconds, when the server said)."""

    def __init__(
        self, reason: str, fix: str, *, retry: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.retry = retry
        self.retry_after = retry_after


def failure_of_exception(error: Exception, timeout_text: str) -> Failure:
    """The failure for an exception raised while sending a request or reading its answer."""
    detail = short(error)
    if isinstance(error, requests.Timeout):
        return Failure(f"no answer within {timeout_text}", CHECK_NETWORK, retry=True)
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        reason = f"the answer was cut short: {short(_innermost(error))}"
        return Failure(reason, CHECK_TRANSFER, retry=True)
    if isinstance(error, requests.exceptions.ContentDecodingError):
        reason = f"the answer arrived damaged: {short(_innermost(error))}"
        return Failure(reason, CHECK_TRANSFER, retry=True)
    if isinstance(error, requests.ConnectionError):
        return Failure(f"cannot connect: {detail}", CHECK_NETWORK, retry=True)
    if isinstance(error, http.client.HTTPException | urllib3.exceptions.HTTPError):
        return Failure(f"the transfer failed: {detail}", CHECK_TRANSFER, retry=True)
    return Failure(f"the request could not be made: {detail}", "check ORCHESTRA_API_BASE_URL")


def failure_of_answer(response: requests.Response) -> Failure:
    """The failure for an answer that is not 2xx."""
    status = response.status_code
    if status == 429 or status >= 500:
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        after = retry_after(response.headers.get("Retry-After"))
        return Failure(reason, TRY_LATER, retry=True, retry_after=after)
    if status in (401, 403):
        return Failure(f"HTTP {status}, the server refused the API key", CHECK_KEY)
    if 300 <= status < 400:
        target = response.headers.get("Location", "another URL")
        return Failure(
            f"HTTP {status}, redirected to {target}",
            "set ORCHESTRA_API_BASE_URL / ORCHESTRA_ENV to the right server (orc does not "
            "follow redirects with the API key)",
        )
    if status == 404:
        return Failure("HTTP 404, there is no state API at this URL", CHECK_URL)
    if status == 413:
        return Failure(
            "HTTP 413, the request is larger than the server accepts",
            "raise the request size limit of the server (or of a proxy in front of it), or "
            "contact Orchestra support",
        )
    text = snippet(response)
    return Failure(
        f"HTTP {status}, the server rejected the request{': ' + text if text else ''}",
        f"{CHECK_URL} and that this orc version matches the API",
    )


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    with suppress(ValueError):
        return max(0.0, float(value))
    with suppress(TypeError, ValueError, IndexError):
        moment = email.utils.parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    return None


def _innermost(error: BaseException) -> BaseException:
    """The exception that `requests` and `urllib3` wrapped (each passes it as the last
    argument), e.g. `IncompleteRead(6 bytes read, 107 more expected)`."""
    while error.args and isinstance(error.args[-1], BaseException):
        error = error.args[-1]
    return error


def short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def snippet(response: requests.Response) -> str:
    text = " ".join(response.text.split()) if response.content else ""
    return text if len(text) <= 120 else text[:117] + "..."
