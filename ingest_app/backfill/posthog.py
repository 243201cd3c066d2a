"""`gdp posthog pull`: backfill PostHog events through the query API (HogQL).

Pages are read in (timestamp, uuid) order with a LIMIT and a keyset cursor
rather than OFFSET, so a page boundary falling inside a run of equal
timestamps neither repeats nor skips events, and a run that is interrupted
resumes where it stopped: each page and the cursor that describes it commit in
one transaction (`raw.posthog_pull_cursor`). Events land in `raw.posthog_event`
with `via = 'query_api'`; a uuid already landed (by the webhook or an earlier
pull) is left as it is.

The API is rate-limited (429 with `Retry-After`) and can fail transiently
(5xx, dropped connections): both are retried a bounded number of times with a
capped wait, then the run stops with a message saying why. An answer that is
not the documented `{results, columns, ...}` is an error, never guessed at.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import psycopg

from gdp.http import parse_retry_after
from ingest_app.landing import land
from ingest_app.posthog_events import event_row, normalize_event

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SELECTED = ("uuid", "event", "distinct_id", "properties", "timestamp")
# PostHog answers up to 50k rows per query when a LIMIT is given; smaller pages keep
# each transaction and each retry cheap.
DEFAULT_PAGE_SIZE = 10_000


class PostHogQueryError(RuntimeError):
    """The backfill cannot continue; the message says what the person can do."""


@dataclass(frozen=True)
class Cursor:
    timestamp: datetime
    uuid: str

    def hogql_filter(self) -> str:
        # Both values are produced here (a datetime we format, a uuid we re-render),
        # never copied from input, so inlining them cannot inject HogQL.
        ts = self.timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        after = str(uuidlib.UUID(self.uuid)) if self.uuid else ""
        return (
            f"timestamp > toDateTime('{ts}') or "
            f"(timestamp = toDateTime('{ts}') and toString(uuid) > '{after}')"
        )


def events_query(cursor: Cursor, page_size: int) -> str:
    return (
        f"select {', '.join(SELECTED)} from events "
        f"where {cursor.hogql_filter()} "
        f"order by timestamp asc, toString(uuid) asc "
        f"limit {int(page_size)}"
    )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:300]
    return str(body)[:300]


@dataclass
class HogQLClient:
    """A small client for `POST /api/projects/:id/query/` with bounded, capped retries."""

    host: str
    api_key: str
    project_id: str
    max_retries: int = 5
    max_wait_s: float = 60.0
    backoff_s: float = 1.0
    timeout_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    on_wait: Callable[[str], None] = lambda message: None
    transport: httpx.BaseTransport | None = None
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.host.rstrip("/"),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            timeout=self.timeout_s,
            transport=self.transport,
        )

    def close(self) -> None:
        self._http.close()

    def _wait(self, attempt: int, reason: str, hinted: float | None = None) -> None:
        if attempt >= self.max_retries:
            raise PostHogQueryError(f"PostHog query API: {reason}; gave up after {self.max_retries} retries")
        delay = hinted if hinted is not None else self.backoff_s * (2**attempt)
        delay = min(delay, self.max_wait_s)
        self.on_wait(f"{reason}; retrying in {delay:g}s ({attempt + 1}/{self.max_retries})")
        self.sleep(delay)

    def query(self, hogql: str) -> dict[str, Any]:
        path = f"/api/projects/{self.project_id}/query/"
        body = {"query": {"kind": "HogQLQuery", "query": hogql}, "refresh": "blocking"}
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError as exc:
                self._wait(attempt, f"cannot reach {self.host} ({type(exc).__name__})")
                continue
            if response.status_code == 429:
                self._wait(attempt, "rate limited (429)", parse_retry_after(response.headers.get("retry-after")))
                continue
            if response.status_code >= 500:
                self._wait(attempt, f"server error {response.status_code}")
                continue
            if response.status_code == 401:
                raise PostHogQueryError(
                    f"PostHog refused POSTHOG_PERSONAL_API_KEY (401: {_detail(response)}); use a personal API key (phx_...)"
                )
            if response.status_code == 403:
                raise PostHogQueryError(
                    f"PostHog denied access to project {self.project_id!r} (403: {_detail(response)}); "
                    "POSTHOG_PERSONAL_API_KEY needs Query Read on it"
                )
            if response.status_code == 404:
                raise PostHogQueryError(f"PostHog project {self.project_id!r} not found at {self.host} (404)")
            if response.status_code >= 400:
                raise PostHogQueryError(f"PostHog rejected the query ({response.status_code}: {_detail(response)})")
            return self._parse(response)
        raise AssertionError("unreachable")  # the loop either returns or `_wait` raises

    @staticmethod
    def _parse(response: httpx.Response) -> dict[str, Any]:
        try:
            answer = response.json()
        except (ValueError, UnicodeDecodeError):
            raise PostHogQueryError("malformed answer from PostHog: body is not JSON") from None
        if not isinstance(answer, dict):
            raise PostHogQueryError("malformed answer from PostHog: expected a JSON object")
        if not isinstance(answer.get("results"), list) or not isinstance(answer.get("columns"), list):
            raise PostHogQueryError("malformed answer from PostHog: 'results' and 'columns' must be lists")
        return answer


def rows_from_answer(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Each result row as a dict by column name; an unexpected row shape is an error."""
    columns = answer["columns"]
    missing = [name for name in SELECTED if name not in columns]
    if missing:
        raise PostHogQueryError(f"malformed answer from PostHog: columns {missing} missing")
    events = []
    for number, values in enumerate(answer["results"]):
        if not isinstance(values, list) or len(values) != len(columns):
            raise PostHogQueryError(f"malformed answer from PostHog: row {number} does not match the columns")
        record = dict(zip(columns, values))
        try:
            event = normalize_event({name: record[name] for name in SELECTED})
        except ValueError as exc:
            raise PostHogQueryError(f"malformed answer from PostHog: row {number}: {exc}") from None
        if not event.get("timestamp"):
            raise PostHogQueryError(f"malformed answer from PostHog: row {number} has no timestamp")
        try:
            uuidlib.UUID(event["uuid"])
        except ValueError:
            raise PostHogQueryError(f"malformed answer from PostHog: row {number} uuid is not a UUID") from None
        events.append(event)
    return events


def load_cursor(conn: psycopg.Connection, project_id: str) -> Cursor | None:
    row = conn.execute(
        "select last_timestamp, last_uuid from raw.posthog_pull_cursor where project_id = %s", (project_id,)
    ).fetchone()
    return Cursor(row[0], row[1]) if row else None


def _save_cursor(conn: psycopg.Connection, project_id: str, cursor: Cursor) -> None:
    # Only forward: a --since run over old ground must not move a later cursor back.
    conn.execute(
        """
        insert into raw.posthog_pull_cursor as c (project_id, last_timestamp, last_uuid)
        values (%s, %s, %s)
        on conflict (project_id) do update
            set last_timestamp = excluded.last_timestamp, last_uuid = excluded.last_uuid, updated_at = now()
            where (c.last_timestamp, c.last_uuid collate "C") < (excluded.last_timestamp, excluded.last_uuid collate "C")
        """,
        (project_id, cursor.timestamp, cursor.uuid),
    )


@dataclass
class PullResult:
    pages: int = 0
    fetched: int = 0
    new: int = 0
    cursor: Cursor | None = None

    def summary(self) -> str:
        where = self.cursor.timestamp.isoformat() if self.cursor else "nothing yet"
        return f"{self.fetched} events read in {self.pages} pages, {self.new} new; cursor at {where}"


def pull(
    conn: psycopg.Connection,
    client: HogQLClient,
    *,
    since: datetime | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_page: Callable[[int, int, int, Cursor], None] = lambda page, fetched, new, cursor: None,
) -> PullResult:
    """Pull every event after the stored cursor (or from `since`) into raw.posthog_event."""
    project_id = client.project_id
    stored = load_cursor(conn, project_id)
    cursor = Cursor(since, "") if since else (stored or Cursor(EPOCH, ""))
    result = PullResult(cursor=stored)
    while True:
        answer = client.query(events_query(cursor, page_size))
        events = rows_from_answer(answer)
        if not events:
            break
        rows = [event_row(event, "query_api") for event in events]
        last = Cursor(rows[-1]["occurred_at"], rows[-1]["uuid"])
        if (last.timestamp, last.uuid) <= (cursor.timestamp, cursor.uuid):
            raise PostHogQueryError("malformed answer from PostHog: a page did not move past the cursor")
        with conn.transaction():
            new = land(conn, "posthog_event", "uuid", rows).new
            _save_cursor(conn, project_id, last)
        cursor = last
        result.pages += 1
        result.fetched += len(rows)
        result.new += new
        result.cursor = load_cursor(conn, project_id)
        on_page(result.pages, len(rows), new, last)
        if len(events) < page_size and not answer.get("hasMore"):
            break
    return result
