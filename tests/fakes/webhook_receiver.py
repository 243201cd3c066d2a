"""A local receiver of Standard Webhooks, behaving as the spec asks a consumer to.

Each POST is recorded raw (`requests`), its signature checked with the official
`svix` library (`Webhook(secret).verify`, 401 on failure), and processed once per
`webhook-id` (`processed`): a repeat of an id already processed is answered 200 and
ignored, as a receiver deduplicating on the id does. Cues make the next requests
answer 429 (with `retry-after`) or 5xx. `hold` makes a request wait after it was
received and processed, before answering, so a test can kill the sender between
the call and its commit.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from svix.webhooks import Webhook, WebhookVerificationError

from tests.fakes.base import FakeServer


class FakeWebhookReceiver(FakeServer):
    def __init__(self, secret: str):
        self.secret = secret
        self.processed: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        self.received = threading.Event()
        super().__init__()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method != "POST":
            return 405, {}, b'{"error":"webhooks are POSTed"}'
        record = {"path": path, "headers": headers, "body": body}
        with self._lock:
            self.requests.append(record)
        cue = self._take_cue(record)
        if cue is not None:
            return cue.status, cue.headers, cue.body or b'{"error":"cued"}'
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            with self._lock:
                self.rejected.append(str(exc))
            return 401, {}, b'{"error":"bad signature"}'
        msg_id = headers["webhook-id"]
        with self._lock:
            if all(p["id"] != msg_id for p in self.processed):
                self.processed.append({"id": msg_id, "event": json.loads(body)})
        self.received.set()
        self.hold.wait(30)
        return 200, {}, b""
