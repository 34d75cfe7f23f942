"""Real servers for the state backend tests.

`StateApiServer` is a real HTTP server (http.server.ThreadingHTTPServer on 127.0.0.1, served
from a background thread) that speaks the state API the HTTP backend expects: GET returns the
whole document, PATCH merges `{"state": {...}, "removed": [...]}` item by item (newer
`last_updated` wins, a tie goes to the request) and answers with the whole document. It checks
the bearer token, and can be told to misbehave for the next requests (an error status, a
Retry-After, a slow answer, a body that is not JSON) or until `heal()`.

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
            misbehaviour = self.plan.popleft() if self.plan else self.always
        if misbehaviour is not None:
            if misbehaviour.sleep:
                time.sleep(misbehaviour.sleep)
            if misbehaviour.garbage:
                return _reply(handler, 200, b"<html>not json", {"Content-Type": "text/html"})
            if misbehaviour.status is not None:
                return _reply(handler, misbehaviour.status, misbehaviour.body, misbehaviour.headers)
        if handler.path != STATE_PATH:
            return _reply(handler, 404, b'{"detail": "not found"}')
        if authorization != f"Bearer {self.token}":
            return _reply(handler, 401, b'{"detail": "invalid token"}')
        if method == "GET":
            return _reply(handler, 200, json.dumps(self.document()).encode())
        if (
            method != "PATCH"
            or not isinstance(body, dict)
            or not isinstance(body.get("state"), dict)
        ):
            return _reply(handler, 400, b'{"detail": "expected {\\"state\\": {...}}"}')
        with self.lock:
            for key, item in body["state"].items():
                held = self.items.get(key)
                if held is None or _moment(item) >= _moment(held):
                    self.items[key] = item
            for key in body.get("removed", []):
                self.items.pop(key, None)
        return _reply(handler, 200, json.dumps(self.document()).encode())


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
