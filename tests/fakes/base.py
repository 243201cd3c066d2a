"""What every fake provider shares: a real HTTP server on 127.0.0.1, one request handler and cues.

The handler reads the body, lower-cases the header names and hands `(method, path, headers,
body)` to the fake's `handle`, which answers `(status, headers, body)`; a fake holds only its
provider's rules. A cue makes the next matching requests answer a chosen status (429 with
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
    """Subclasses implement `handle(method, path, headers, body)`; `path` keeps its query string."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cues: list[Cue] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = fake.handle(self.command, self.path, headers, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed mid-request (crash tests): a provider would not notice either

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler

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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

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
