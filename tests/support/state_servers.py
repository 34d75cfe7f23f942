"""Real servers for the state backend tests.

`StateApiServer` is a real HTTP server (http.server.ThreadingHTTPServer on 127.0.0.1, served
from a background thread) that speaks the state API the HTTP backend expects: GET returns the
whole document, PATCH merges `{"state": {...}, "removed": [...]}` item by item (newer
`last_updated` wins, a tie goes to the request) and answers with the whole document. It checks
the bearer token, and can be told to misbehave for the next requests (an error status, a
Retry-After, a slow answer, a body that is not JSON, a body cut short, another answer to a
request it did apply) or until `heal()`.

`RecordingProxy` is a forward proxy on 127.0.0.1 that forwards nothing: it records every
request that reaches it (CONNECT tunnels included) and answers 502.

The merge here is written independently of orchestra_dbt_py so the tests do not check the
client against itself.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

STATE_PATH = "/api/engine/public/state/DBT_CORE"


@dataclass
class Misbehaviour:
    """What to do instead of (or before) answering one request normally."""

    status: int | None = None  # answer with this status instead
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0  # wait this long first
    garbage: bool = False  # answer 200 with a body that is not JSON
    short: bool = False  # answer 200 announcing more bytes than it sends, then hang up
    applied: bool = False  # apply the request as usual, then answer `status`/`body` instead
    method: str | None = None  # misbehave only for requests with this method


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: Any


class StateApiServer:
    def __init__(self, token: str, document: dict[str, Any] | None = None) -> None:
        self.token = token
        self.items: dict[str, Any] = dict((document or {"state": {}})["state"])
        self.plan: deque[Misbehaviour] = deque()
        self.always: Misbehaviour | None = None
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def next(self, *misbehaviours: Misbehaviour) -> None:
        """Misbehave for the next requests, one misbehaviour per request, in order."""
        with self.lock:
            self.plan.extend(misbehaviours)

    def break_down(self, misbehaviour: Misbehaviour) -> None:
        """Misbehave on every request until `heal()`."""
        with self.lock:
            self.always = misbehaviour

    def heal(self) -> None:
        with self.lock:
            self.always = None
            self.plan.clear()

    def document(self) -> dict[str, Any]:
        with self.lock:
            return {"state": json.loads(json.dumps(self.items))}

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output clean

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_PATCH(self) -> None:
                server._handle(self, "PATCH")

            def do_PUT(self) -> None:
                server._handle(self, "PUT")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- serving --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        authorization = handler.headers.get("Authorization")
        with self.lock:
            self.seen.append(Seen(method, handler.path, authorization, body))
            if self.plan and self.plan[0].method in (None, method):
                misbehaviour: Misbehaviour | None = self.plan.popleft()
            elif self.always is not None and self.always.method in (None, method):
                misbehaviour = self.always
            else:
                misbehaviour = None
        if misbehaviour is not None and misbehaviour.applied:
            self._answer(handler, method, authorization, body)
            assert misbehaviour.status is not None
            return _reply(handler, misbehaviour.status, misbehaviour.body, misbehaviour.headers)
        if misbehaviour is not None:
            if misbehaviour.sleep:
                time.sleep(misbehaviour.sleep)
            if misbehaviour.garbage:
                return _reply(handler, 200, b"<html>not json", {"Content-Type": "text/html"})
            if misbehaviour.short:
                return _reply_short(handler, json.dumps(self.document()).encode())
            if misbehaviour.status is not None:
                return _reply(handler, misbehaviour.status, misbehaviour.body, misbehaviour.headers)
        status, answer = self._answer(handler, method, authorization, body)
        _reply(handler, status, answer)

    def _answer(
        self, handler: BaseHTTPRequestHandler, method: str, authorization: str | None, body: Any
    ) -> tuple[int, bytes]:
        """Apply one request; returns the status and body of the usual answer."""
        if handler.path != STATE_PATH:
            return 404, b'{"detail": "not found"}'
        if authorization != f"Bearer {self.token}":
            return 401, b'{"detail": "invalid token"}'
        if method == "GET":
            return 200, json.dumps(self.document()).encode()
        if (
            method != "PATCH"
            or not isinstance(body, dict)
            or not isinstance(body.get("state"), dict)
        ):
            return 400, b'{"detail": "expected {\\"state\\": {...}}"}'
        with self.lock:
            for key, item in body["state"].items():
                held = self.items.get(key)
                if held is None or _moment(item) >= _moment(held):
                    self.items[key] = item
            for key in body.get("removed", []):
                self.items.pop(key, None)
        return 200, json.dumps(self.document()).encode()


def _moment(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["last_updated"])


def _reply(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    try:
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test)


def _reply_short(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """200 with a Content-Length larger than the bytes sent, then the connection is closed."""
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body) + 100))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


@contextmanager
def state_api_server(
    token: str, document: dict[str, Any] | None = None
) -> Iterator[StateApiServer]:
    server = StateApiServer(token, document)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- a proxy that records what reaches it --------------------------------------------------


@dataclass
class ProxiedRequest:
    method: str
    target: str  # the request target: an absolute URL, or host:port for CONNECT
    headers: dict[str, str]
    body: bytes


class RecordingProxy:
    def __init__(self) -> None:
        self.seen: list[ProxiedRequest] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.seen.append(
                        ProxiedRequest(self.command, self.path, dict(self.headers.items()), body)
                    )
                self.close_connection = True
                _reply(self, 502, b"this proxy forwards nothing", {"Connection": "close"})

            do_GET = do_PATCH = do_PUT = do_POST = do_CONNECT = _record

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def everything_seen(self) -> str:
        """All that reached the proxy, as one text (to look for a secret in)."""
        with self.lock:
            return "\n".join(
                f"{seen.method} {seen.target} {seen.headers!r} {seen.body!r}" for seen in self.seen
            )


@contextmanager
def recording_proxy() -> Iterator[RecordingProxy]:
    proxy = RecordingProxy()
    proxy._thread.start()
    try:
        yield proxy
    finally:
        proxy._httpd.shutdown()
        proxy._httpd.server_close()
        proxy._thread.join(timeout=10)


# --- S3 (the moto server started by scripts/with-moto.sh) -------------------------------------

S3_REASON = (
    "needs the moto S3 server that `make test` starts (scripts/with-moto.sh sets AWS_ENDPOINT_URL)"
)


def s3_available() -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


requires_s3 = [pytest.mark.s3, pytest.mark.skipif(not s3_available(), reason=S3_REASON)]


def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def new_bucket(prefix: str = "orc-test") -> str:
    """A fresh bucket on the S3 server, with a unique name."""
    name = f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**12}"
    s3_client().create_bucket(Bucket=name)
    return name
