"""The HTTP backend: the state document kept by the Orchestra API (selected by ORCHESTRA_API_KEY).

Endpoint: `{base}/api/engine/public/state/DBT_CORE`, where `base` is
`https://{orchestra_env}.getorchestra.io` or ORCHESTRA_API_BASE_URL (for self-hosting and
tests). Plain `http://` is accepted only for loopback hosts (127.0.0.1, localhost, ::1); any
other base URL must use https, so the key never crosses a network in clear text. Every request
carries `Authorization: Bearer <key>`. Redirects are not followed (a redirect is an error that
names the URL to configure instead). Plain http requests never go through a proxy (HTTP_PROXY,
ALL_PROXY... are ignored for them: a proxy would read the key); https requests honour the
proxy variables, and a proxy then sees only a CONNECT tunnel.

Wire format (JSON, UTF-8):

* `GET` answers 200 with the whole document, `{"state": {"<key>": {item}, ...}}`, exactly as
  in docs/design.md (see `orchestra_dbt_py.core.document`).
* `PATCH` sends only the items to upsert, with the removals in a separate list that is left
  out when empty::

      {"state": {"<key>": {item}, ...}, "removed": ["<key>", ...]}

  The server applies the merge rule of `merge_states` item by item (for a key it already
  holds, the item with the newer `last_updated` wins; a tie goes to the request), then deletes
  the keys in `removed`. It answers 200 with the whole merged document, or 204 with no body.
  Any 2xx answer means saved, whatever its body: when the caller wants the merged document
  (`update`) and the answer is not one, the client GETs it (a run's checkpoints, `save`, do
  not). Because the merge rule is idempotent, a PATCH that is sent again after a timeout
  cannot do harm, so every request is retried.

Retries: connection errors, timeouts, answers cut short, 429 and 5xx are retried with jittered
exponential backoff (429/503 honour Retry-After), up to `max_attempts` requests. Any other
answer fails at once (401/403 say the key was refused, without showing it); see
`orchestra_dbt_py.state.http_failures`. A GET answer that is not a valid state document is an
error, never an empty state.

A save (`save` or `update`) that fails, whatever the cause, is not lost: the items it tried
to send (with the removals, as above) are written to
`<unsaved_dir>/unsaved-state-<UTC time>-<pid>.json` -- one file per backend instance,
rewritten with everything still unsaved on each failure -- and the OrcError names the cause
and tells the user to run `orc state push <file>`.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from orchestra_dbt_py import __version__
from orchestra_dbt_py.artifacts import replace_file
from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import decode_document, parse_state, unsaved_document
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import StateBackend, backoff_seconds
from orchestra_dbt_py.state.http_failures import Failure, failure_of_answer, failure_of_exception

__all__ = ["STATE_PATH", "HttpBackend", "api_base_url"]

STATE_PATH = "/api/engine/public/state/DBT_CORE"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# What sending a request or reading its answer may raise (anything else is a bug).
TRANSFER_ERRORS = (
    requests.RequestException,
    ValueError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
)

_log = logging.getLogger(__name__)


def api_base_url(orchestra_env: str, override: str | None) -> str:
    """The API base URL: `override` (ORCHESTRA_API_BASE_URL) when set, else the deployment's.

    OrcError when the URL is not http(s), has no host, carries credentials, or uses plain
    http for a host that is not loopback.
    """
    if not override:
        return f"https://{orchestra_env}.getorchestra.io"
    base = override.strip().rstrip("/")
    parts = urlsplit(base)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise OrcError(
            f"ORCHESTRA_API_BASE_URL={override!r} is not an http(s) URL with a host: "
            "set it to e.g. https://app.getorchestra.io or unset it"
        )
    if parts.username is not None or parts.password is not None:
        raise OrcError(
            "ORCHESTRA_API_BASE_URL must not contain a user name or password: remove them "
            "(the API key is sent from ORCHESTRA_API_KEY)"
        )
    if parts.query or parts.fragment:
        raise OrcError(
            f"ORCHESTRA_API_BASE_URL={override!r} must not have a query or fragment: remove it"
        )
    if scheme == "http" and parts.hostname.lower() not in LOOPBACK_HOSTS:
        raise OrcError(
            f"ORCHESTRA_API_BASE_URL={override!r} uses plain http for a host that is not "
            "loopback: use https:// (http is only allowed for 127.0.0.1, localhost and ::1)"
        )
    return base


class _Bearer(requests.auth.AuthBase):
    """Adds the bearer token; given to requests as `auth` so that ~/.netrc is never used
    in its place. Its repr never shows the key."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.key}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(<hidden>)"


class HttpBackend(StateBackend):
    """State kept by the Orchestra API (or a compatible server)."""

    no_claims_reason = "the Orchestra API offers no conditional write"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        unsaved_dir: Path,
        on_wait: Callable[[str], None] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        max_retry_after_seconds: float = 60.0,
    ) -> None:
        """`base_url` is checked with `api_base_url` rules (https unless loopback);
        `unsaved_dir` receives the unsaved-state file when a save fails; `on_wait` gets a
        message before each retry."""
        if not api_key:
            raise OrcError("the HTTP state backend needs ORCHESTRA_API_KEY: set it")
        if not all("!" <= char <= "~" for char in api_key):
            raise OrcError(
                "ORCHESTRA_API_KEY contains spaces, line breaks or characters that are not "
                "printable ASCII: set it to the key exactly as Orchestra shows it"
            )
        if not base_url:
            raise OrcError("the HTTP state backend needs a base URL: unset ORCHESTRA_API_BASE_URL")
        self.base_url = api_base_url("app", base_url)
        self.url = self.base_url + STATE_PATH
        self.description = f"the Orchestra API at {self.url}"
        self.unsaved_dir = Path(unsaved_dir)
        self.unsaved_file: Path | None = None
        self._auth = _Bearer(api_key)
        self._on_wait = on_wait
        self._timeout = (connect_timeout, read_timeout)
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._max_retry_after = max_retry_after_seconds
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"orc/{__version__} (orchestra-dbt-py)"
        if urlsplit(self.base_url).scheme.lower() == "http":
            # No proxy from the environment for plain http: it would read the key.
            self._session.trust_env = False
        self._lock = threading.Lock()
        self._unsaved: dict[str, NodeRecord] = {}
        self._unsaved_removals: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        unsaved_dir: Path,
        on_wait: Callable[[str], None] | None = None,
    ) -> HttpBackend:
        """The backend for `Settings` (api_key, api_base_url, orchestra_env)."""
        if not settings.api_key:
            raise OrcError("the Orchestra API state backend needs ORCHESTRA_API_KEY: set it")
        base = api_base_url(settings.orchestra_env, settings.api_base_url)
        return cls(base, settings.api_key, unsaved_dir=unsaved_dir, on_wait=on_wait)

    def __repr__(self) -> str:
        return f"HttpBackend({self.url!r})"

    # --- the StateBackend interface ----------------------------------------------------------

    def exists(self) -> bool:
        """The API always holds a document: True once a GET succeeds (errors raise)."""
        self.load()
        return True

    def init(self) -> bool:
        """Nothing to create (the API always has a document); checks access, returns False."""
        self.load()
        return False

    def load(self) -> dict[str, NodeRecord]:
        """GET the document."""
        try:
            response = self._request("GET", None)
        except Failure as failure:
            raise self._error(
                f"could not read the state from {self.description} ({failure.reason}): "
                f"{failure.fix}, then run again"
            ) from None
        return self._parse(response, "orc did not use it and changed nothing")

    def save(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        """PATCH the items and removals (the server merges); any 2xx answer means saved."""
        self._patch(items, removals)

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """`save`, then return the merged document: the answer when it is one, else a GET
        (checked as strictly as `load`; when it fails, the records are saved all the same)."""
        answer = self._patch(items, removals)
        with suppress(OrcError):
            return parse_state(decode_document(answer.content, self.url), self.url)
        try:
            return self.load()
        except OrcError as error:
            raise OrcError(
                f"the records were saved, but reading the merged state back failed: {error}"
            ) from None

    # --- internals ---------------------------------------------------------------------------

    def _patch(
        self, items: Mapping[str, NodeRecord], removals: Collection[str]
    ) -> requests.Response:
        """One PATCH (with retries) and its 2xx answer. Whatever makes it fail, what it
        carried is first kept in the unsaved-state file for `orc state push`."""
        removed = sorted(set(removals))
        body = unsaved_document(items, removed).encode("utf-8")
        try:
            return self._request("PATCH", body)
        except Failure as failure:
            path = self._keep_unsaved(items, removed, failure.reason)
            raise self._error(
                f"could not save the state to {self.description} ({failure.reason}); the "
                f"unsaved records are in {path}: {failure.fix}, then run `orc state push {path}`"
            ) from None
        except BaseException as error:  # a bug or an interrupt: keep the records, let it go on
            with suppress(OrcError):
                self._keep_unsaved(items, removed, type(error).__name__)
            raise

    def _request(self, method: str, body: bytes | None) -> requests.Response:
        """One request with retries; returns a 2xx response, or raises the Failure that
        retrying could not fix."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        attempt = 1
        while True:
            try:
                return self._attempt(method, body, headers)
            except Failure as failure:
                if not failure.retry:
                    raise
                if attempt == self._max_attempts:
                    if attempt > 1:
                        failure.reason = f"{failure.reason}, after {attempt} attempts"
                    raise
                delay = self._delay(attempt, failure.retry_after)
                reason = self._redact(failure.reason)
                _log.debug("%s %s: %s; retrying in %.2f s", method, self.url, reason, delay)
                if self._on_wait is not None:
                    self._on_wait(
                        f"{self.description}: {reason}; retrying in {delay:.1f} s "
                        f"(attempt {attempt + 1} of {self._max_attempts})"
                    )
                time.sleep(delay)
                attempt += 1

    def _attempt(
        self, method: str, body: bytes | None, headers: dict[str, str]
    ) -> requests.Response:
        try:
            with self._lock:
                response = self._session.request(
                    method,
                    self.url,
                    data=body,
                    headers=headers,
                    auth=self._auth,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
        except TRANSFER_ERRORS as error:
            raise failure_of_exception(error, self._timeout_text()) from None
        _log.debug("%s %s -> %s", method, self.url, response.status_code)
        if 200 <= response.status_code < 300:
            return response
        raise failure_of_answer(response)

    def _parse(self, response: requests.Response, note: str) -> dict[str, NodeRecord]:
        try:
            text = decode_document(response.content, self.url)
            json.loads(text)
        except (OrcError, ValueError) as error:
            detail = self._redact(" ".join(str(error).split())[:120])
            raise OrcError(
                f"{self.description} answered with invalid JSON ({detail}); {note}: try again "
                "later or contact Orchestra support"
            ) from None
        try:
            return parse_state(text, self.url)
        except OrcError as error:
            raise OrcError(self._redact(str(error))) from None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self._max_retry_after)
        return backoff_seconds(attempt - 1, self._backoff, self._max_backoff)

    def _error(self, message: str) -> OrcError:
        return OrcError(self._redact(message))

    def _redact(self, text: str) -> str:
        """`text` with the API key blanked out, should a server or library ever echo it."""
        return text.replace(self._auth.key, "<hidden>") if self._auth.key else text

    def _timeout_text(self) -> str:
        connect, read = self._timeout
        return f"{connect:g} s to connect / {read:g} s to answer"

    def _keep_unsaved(self, items: Mapping[str, NodeRecord], removed: list[str], why: str) -> Path:
        """Merge what failed into this backend's unsaved file and return its path."""
        self._unsaved = merge_states(self._unsaved, items, now=datetime.now(UTC))
        self._unsaved_removals = (self._unsaved_removals - set(items)) | set(removed)
        for key in removed:
            self._unsaved.pop(key, None)
        if self.unsaved_file is None:
            moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            self.unsaved_file = self.unsaved_dir / f"unsaved-state-{moment}-{os.getpid()}.json"
        path = self.unsaved_file
        text = unsaved_document(self._unsaved, sorted(self._unsaved_removals))
        try:
            replace_file(path, text)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise self._error(
                f"could not save the state to {self.description} ({why}), and could not keep "
                f"the unsaved records in {path} either ({reason}): the records of this run "
                "are lost; make that folder writable and run again"
            ) from None
        return path
