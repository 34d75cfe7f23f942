"""moto's S3 server, answering one request at a time.

moto checks a conditional PUT's `If-Match`/`If-None-Match` and then writes, with nothing
between the two: two writers of one object, each with a request thread of its own, can
both pass the check, and the first write is lost. S3 itself makes the pair atomic, which is
what orc's object-store backends rely on (docs/design.md, "Backends"). Serving one request
at a time restores that guarantee; the tests' requests are small.

    python scripts/moto_server_atomic.py -H 127.0.0.1 -p PORT   (moto_server's arguments)
"""

from __future__ import annotations

import threading
from typing import Any

from moto import server

_one_at_a_time = threading.Lock()
_dispatch = server.DomainDispatcherApplication.__call__


def _serialized(self: Any, environ: Any, start_response: Any) -> Any:
    with _one_at_a_time:
        return _dispatch(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _serialized  # type: ignore[method-assign]

if __name__ == "__main__":
    server.main()
