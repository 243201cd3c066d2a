"""A local stand-in for PostHog's query API, speaking its wire format over real HTTP.

`POST /api/projects/<id>/query/` with `{"query": {"kind": "HogQLQuery", "query": ...}}`
answers `{results, columns, types, hasMore, ...}` like PostHog: `properties` comes
back as a JSON string, timestamps as ISO strings in UTC. It enforces the personal
API key (`Authorization: Bearer ...`) and the project id, and can be cued to
answer 429 with `Retry-After`, a 5xx, or a body that is not JSON, for the next
requests.

It runs only the query shape the backfill sends (keyset page over `events`); any
other HogQL gets the 400 PostHog gives a query it cannot run, so a change in the
client's query is caught here rather than in production.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from tests.fakes.base import Cue, FakeServer

QUERY = re.compile(
    r"^select (?P<cols>[\w, ]+) from events "
    r"where timestamp > toDateTime\('(?P<ts>[^']+)'\) or "
    r"\(timestamp = toDateTime\('(?P=ts)'\) and toString\(uuid\) > '(?P<uuid>[0-9a-f-]*)'\) "
    r"order by timestamp asc, toString\(uuid\) asc "
    r"limit (?P<limit>\d+)$"
)
KNOWN_COLUMNS = {"uuid", "event", "distinct_id", "properties", "timestamp"}
TYPES = {
    "uuid": "UUID",
    "event": "String",
    "distinct_id": "String",
    "properties": "String",
    "timestamp": "DateTime64(6, 'UTC')",
}


def render_timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class FakePostHog(FakeServer):
    def __init__(self, api_key: str = "phx_test_personal_key", project_id: str = "4242", max_rows: int = 50_000):
        self.api_key = api_key
        self.project_id = project_id
        self.max_rows = max_rows  # PostHog's own cap per query, whatever LIMIT says
        self.events: list[dict[str, Any]] = []
        super().__init__()

    # --- test controls -------------------------------------------------------

    def add_event(self, uuid: str, event: str, distinct_id: str, timestamp: datetime, properties: dict | None = None):
        self.events.append(
            {"uuid": uuid, "event": event, "distinct_id": distinct_id, "timestamp": timestamp, "properties": properties or {}}
        )

    def cue(self, status: int, *, headers: dict[str, str] | None = None, body: bytes | dict | None = None, times: int = 1):
        """The next `times` query requests get this answer instead of results."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif body is None:
            body = json.dumps({"type": "server_error", "detail": f"cued {status}"}).encode()
        with self._lock:
            self.cues.append(Cue(status, headers or {}, body, times=times))

    # --- the API -------------------------------------------------------------

    def run_query(self, hogql: str) -> tuple[int, dict[str, Any]]:
        match = QUERY.match(" ".join(hogql.split()))
        if not match:
            return 400, {"type": "validation_error", "code": "query_error", "detail": "Syntax error in HogQL query"}
        columns = [c.strip() for c in match["cols"].split(",")]
        unknown = [c for c in columns if c not in KNOWN_COLUMNS]
        if unknown:
            return 400, {"type": "validation_error", "code": "query_error", "detail": f"Unable to resolve field: {unknown[0]}"}
        after_ts, after_uuid = parse_timestamp(match["ts"]), match["uuid"]
        ordered = sorted(self.events, key=lambda e: (e["timestamp"], e["uuid"]))
        matching = [e for e in ordered if (e["timestamp"], e["uuid"]) > (after_ts, after_uuid)]
        limit = min(int(match["limit"]), self.max_rows)
        page = matching[:limit]
        render = {
            "uuid": lambda e: e["uuid"],
            "event": lambda e: e["event"],
            "distinct_id": lambda e: e["distinct_id"],
            "properties": lambda e: json.dumps(e["properties"]),
            "timestamp": lambda e: render_timestamp(e["timestamp"]),
        }
        return 200, {
            "cache_key": "fake",
            "is_cached": False,
            "columns": columns,
            "types": [[c, TYPES[c]] for c in columns],
            "results": [[render[c](e) for c in columns] for e in page],
            "hasMore": len(matching) > len(page),
            "limit": limit,
            "offset": 0,
            "hogql": hogql,
        }

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
        if headers.get("authorization") != f"Bearer {self.api_key}":
            detail = {"type": "authentication_error", "code": "authentication_failed", "detail": "Invalid personal API key."}
            return 401, {}, json.dumps(detail).encode()
        match = re.fullmatch(r"/api/projects/([^/]+)/query/", path)
        if method != "POST" or not match:
            return 404, {}, b'{"detail": "Not found."}'
        if match[1] != self.project_id:
            return 403, {}, b'{"type": "authentication_error", "detail": "You don\'t have access to the project."}'
        cue = self._take_cue({"path": path})
        if cue:
            return cue.status, cue.headers, cue.body
        try:
            request = json.loads(body)
            query = request["query"]
            assert query["kind"] == "HogQLQuery"
            hogql = query["query"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return 400, {}, b'{"type": "validation_error", "detail": "Invalid query"}'
        status, answer = self.run_query(hogql)
        return status, {}, json.dumps(answer).encode()
