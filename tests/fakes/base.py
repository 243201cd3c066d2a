"""What every fake provider shares: a real HTTP server on 127.0.0.1 and cues.

A cue makes the next matching requests answer a chosen status (429 with
`retry-after`, 5xx, a provider error, a body that is not JSON), so tests drive
the error paths the real providers take.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Cue:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    when: Callable[[dict], bool] | None = None
    times: int = 1


class FakeServer:
    """Subclasses implement `_handler()` returning a BaseHTTPRequestHandler class."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cues: list[Cue] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def cue(self, status: int, *, times: int = 1, retry_after: str | None = None, body: bytes | None = None,
            when: Callable[[dict], bool] | None = None) -> None:
        """Answer the next `times` matching requests with this status (and body / retry-after)."""
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        with self._lock:
            self.cues.append(Cue(status, headers, body, when, times))

    def _take_cue(self, request: dict) -> Cue | None:
        with self._lock:
            for cue in self.cues:
                if cue.times > 0 and (cue.when is None or cue.when(request)):
                    cue.times -= 1
                    return cue
        return None
