"""A local stand-in for Meta's Graph API (Conversions API and Custom Audiences).

`POST /<version>/<pixel_id>/events` with `data`, `access_token` and optional
`test_event_code` (JSON or form body) answers `{events_received, messages,
fbtrace_id}`; more than 1,000 events, or any event older than 7 days, fails the
whole request as Meta does. `POST` / `DELETE /<version>/<audience_id>/users` take
`payload={schema, data}` (≤ 10,000 rows) and answer `{audience_id, session_id,
num_received, num_invalid_entries, invalid_entry_samples}`; rows whose values
are not SHA-256 hex (or empty) are refused. Errors are `{"error": {message,
type, code, fbtrace_id}}`. Every request is recorded raw so a test can scan each
payload for unhashed personal data; cues make the next requests answer 429, 5xx
or an error.

Like Meta, it deduplicates: events with the same (event_name, event_id), from the
browser Pixel (`pixel()`, what fbq sends) or the Conversions API, count once in
`conversions`; `events` keeps every CAPI event received.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.base import FakeServer

HEX64 = re.compile(r"^[0-9a-f]{64}$")
PATH = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<node>[^/]+)/(?P<edge>events|users)$")


def graph_error(message: str, code: int, type_: str = "OAuthException", **extra) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "code": code, "fbtrace_id": uuid.uuid4().hex[:11], **extra}}).encode()


class FakeMeta(FakeServer):
    def __init__(self, access_token: str = "meta_test_token", version: str = "v21.0", pixel_id: str = "1234567890"):
        self.access_token = access_token
        self.version = version
        self.pixel_id = pixel_id
        self.events: list[dict[str, Any]] = []
        self.conversions: dict[tuple[str, str], list[str]] = {}  # (event_name, event_id) -> sources seen ("pixel", "capi")
        self.audiences: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        super().__init__()

    @staticmethod
    def _params(query: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        if not body:
            return params
        if headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(body)
            if not isinstance(parsed, dict):
                raise ValueError("body is not a JSON object")
            params.update(parsed)
        else:
            params.update({k: v[-1] for k, v in parse_qs(body.decode(), strict_parsing=True).items()})
        return params

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        record = {"method": method, "path": parts.path, "query": parts.query, "headers": headers, "body": body, "at": time.time()}
        with self._lock:
            self.requests.append(record)
        cue = self._take_cue(record)
        if cue is not None:
            default = graph_error("cued failure", 2 if cue.status >= 500 else 4 if cue.status == 429 else 100,
                                  "OAuthException")
            return cue.status, cue.headers, cue.body if cue.body is not None else default
        match = PATH.match(parts.path)
        if not match or match["version"] != self.version:
            return 400, {}, graph_error(f"Unknown path components: {parts.path}", 2500)
        try:
            params = self._params(parts.query, headers, body)
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, {}, graph_error(f"Malformed request body: {exc}", 100)
        record["params"] = params
        if params.get("access_token") != self.access_token:
            return 400, {}, graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        if match["edge"] == "events":
            return self._events(method, match["node"], params)
        return self._users(method, match["node"], params)

    def _events(self, method: str, pixel_id: str, params: dict) -> tuple[int, dict[str, str], bytes]:
        if method != "POST" or pixel_id != self.pixel_id:
            return 400, {}, graph_error(f"Unsupported {method} request. Object with ID '{pixel_id}' does not exist", 100, "GraphMethodException")
        data = params.get("data")
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, list) or not 1 <= len(data) <= 1000:
            return 400, {}, graph_error("Invalid parameter: data must hold 1 to 1000 events", 100)
        now = time.time()
        for event in data:
            if not isinstance(event, dict) or not event.get("event_name") or not isinstance(event.get("event_time"), int):
                return 400, {}, graph_error("Invalid parameter: event_name and integer event_time are required", 100)
            if event["event_time"] < now - 7 * 86400:
                return 400, {}, graph_error("Invalid parameter", 100, error_subcode=2804003,
                                            error_user_msg="event_time is more than 7 days in the past")
            if not event.get("user_data"):
                return 400, {}, graph_error("Invalid parameter: user_data is required", 100)
        with self._lock:
            for event in data:
                self.events.append({"event": event, "test_event_code": params.get("test_event_code")})
                self._count(event["event_name"], event.get("event_id") or uuid.uuid4().hex, "capi")
        return 200, {}, json.dumps({"events_received": len(data), "messages": [], "fbtrace_id": uuid.uuid4().hex[:11]}).encode()

    def _count(self, event_name: str, event_id: str, source: str) -> None:
        self.conversions.setdefault((event_name, event_id), []).append(source)

    def pixel(self, event_name: str, event_id: str) -> None:
        """The browser Pixel's side: fbq('track', event_name, data, {eventID: event_id})."""
        with self._lock:
            self._count(event_name, event_id, "pixel")

    def counted(self, event_name: str) -> list[tuple[str, str]]:
        """What Meta reports for event_name after deduplication: one key per distinct event_id."""
        with self._lock:
            return [key for key in self.conversions if key[0] == event_name]

    def _users(self, method: str, audience_id: str, params: dict) -> tuple[int, dict[str, str], bytes]:
        if method not in ("POST", "DELETE"):
            return 400, {}, graph_error(f"Unsupported {method} request", 100, "GraphMethodException")
        payload = params.get("payload")
        try:
            payload = json.loads(payload) if isinstance(payload, str) else payload
            schema, rows = payload["schema"], payload["data"]
        except (ValueError, TypeError, KeyError):
            return 400, {}, graph_error("Invalid parameter: payload must be {schema, data}", 100)
        if not isinstance(rows, list) or not 1 <= len(rows) <= 10000:
            return 400, {}, graph_error("Invalid parameter: 1 to 10000 rows per call", 100)
        for row in rows:
            if not isinstance(row, list) or len(row) != len(schema) or not all(v == "" or HEX64.match(str(v)) for v in row):
                return 400, {}, graph_error("Invalid parameter: data must be SHA-256 hashed and match the schema", 100,
                                            error_user_msg="Data Not Hashed")
        with self._lock:
            members = self.audiences[audience_id]
            for row in rows:
                (members.add if method == "POST" else members.discard)(tuple(row))
        return 200, {}, json.dumps({
            "audience_id": audience_id, "session_id": str(uuid.uuid4().int)[:18], "num_received": len(rows),
            "num_invalid_entries": 0, "invalid_entry_samples": {},
        }).encode()
