"""The one way rows land in `raw`, with the tombstone check; no Flask.

Every writer of `raw` calls `land`: the webhooks and browser endpoints (through
`ingest_app/db.py`, which hands it the app's pool), the PostHog backfill, `gdp deal
move` and `gdp leads import`. A landing is one statement per row: the tombstone
check (`gdp person forget` writes `raw.forgotten_identifier`) and the insert, so a
row that names a forgotten person is never stored, whichever path it came by.

Landing is `insert ... on conflict` keyed by the source's own id: a redelivery is a
no-op, or, for sources that are re-imported (`raw.lead`), an update the caller
spells in `on_conflict`. Given a pool, `land` commits and retries once on a fresh
connection when an outage broke the pooled one; given a connection, it runs inside
the caller's transaction (a backfill page and its cursor commit together).

The HTTP app lands through `GroupCommit` instead: the requests of one worker that
arrive while a commit is forming join it, and each batch is one
prepared statement per table (a multi-row insert whose tombstone check is one
index probe per hash) committed once. Every request still gets its
answer only after the commit that holds its rows. A value given as `JsonText` (a
webhook's body, already parsed and checked) travels to Postgres as the text that
arrived, not re-serialised from its parsed form.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, unquote_plus

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
MAX_EXACT_CHARS = 512


class DatabaseUnavailable(RuntimeError):
    """The pool gave no working connection in time; the HTTP app answers 503 so the sender retries."""


# --- the tombstone check --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonText:
    """A JSON value to land as it arrived: `text` is the JSON text (a webhook's verified body) and
    `value` what it parsed to (what the tombstone check reads). The batch insert splices `text` into
    its JSON as is, so a body is not re-serialised from its parsed form; Postgres parses it into the
    jsonb column (a value it refuses, e.g. NaN or \\u0000, fails that request with `psycopg.DataError`)."""

    text: str
    value: Any

    @classmethod
    def of(cls, text: str, value: Any) -> JsonText:
        """`text` that `json.loads` parsed into `value` (a UTF-8 byte order mark, which Python skips, is dropped)."""
        return cls(text[1:] if text.startswith("\ufeff") else text, value)


_sha256 = hashlib.sha256


def identifier_hash(value: str) -> str:
    """How a forgotten identifier is kept: SHA-256 of its normalized text, never the text."""
    return _sha256(value.encode("utf-8")).hexdigest()


def _strings(value: Any) -> Iterable[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            yield item
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is JsonText:
            stack.append(item.value)
        elif isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _readings(text: str) -> set[str]:
    """The text, and as a URL would decode it (`%40` -> `@`, `+` -> space or kept), up to 3 layers deep."""
    readings, layer = {text}, text
    for _ in range(3):
        if "%" not in layer and "+" not in layer:
            break
        readings |= {unquote(layer), unquote_plus(layer)}
        layer = unquote(layer)
    return readings


# Hashes of short texts seen lately (event types, header values, subjects recur in every delivery),
# kept per process and forgotten all at once when full.
_KNOWN_HASHES: dict[str, str] = {}
_KNOWN_MAX = 4096
_KNOWN_MAX_CHARS = 64


def landing_hashes(row: Any) -> list[str]:
    """SHA-256 of every string in a row to land (trimmed), and of every email address inside one (lowercased),
    also percent-encoded ones (`?email=ada%40x.org` in a click URL or PostHog's `$current_url`)."""
    hashes = set()
    add = hashes.add
    known = _KNOWN_HASHES
    for text in set(_strings(row)):  # a row repeats its key (column and header): hash each text once
        stripped = text.strip()
        if stripped and len(stripped) <= MAX_EXACT_CHARS:
            digest = known.get(stripped)
            if digest is None:
                digest = _sha256(stripped.encode("utf-8")).hexdigest()
                if len(stripped) <= _KNOWN_MAX_CHARS:
                    if len(known) >= _KNOWN_MAX:
                        known.clear()
                    known[stripped] = digest
            add(digest)
        if "@" in text or "%40" in text or "%25" in text:
            for reading in _readings(text):
                hashes.update(identifier_hash(e.lower()) for e in EMAIL_RE.findall(reading))
    return sorted(hashes)


def tombstoned(conn: psycopg.Connection, hashes: list[str]) -> set[str]:
    """Which of these hashes belong to forgotten identifiers (one indexed lookup)."""
    if not hashes:
        return set()
    rows = conn.execute(
        "select identifier_hash from raw.forgotten_identifier where identifier_hash = any(%s)", (hashes,)
    ).fetchall()
    return {r[0] for r in rows}


# --- landing --------------------------------------------------------------------------

_LAND = """
with forgotten as (
    select exists (
        select 1 from raw.forgotten_identifier where identifier_hash = any({hashes}::text[])
    ) as is_forgotten
),
landed as (
    insert into raw.{table} as existing ({cols})
    select {vals}
    where not (select is_forgotten from forgotten)
    on conflict ({key}) {on_conflict}
    returning (xmax = 0) as is_new
)
select (select is_forgotten from forgotten),
       (select count(*) from landed where is_new),
       (select count(*) from landed where not is_new)
"""


@dataclass
class Landed:
    new: int = 0
    updated: int = 0
    forgotten: int = 0


_TYPES: dict[tuple[str, str], dict[str, str]] = {}


def _column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """Postgres types of a raw table's columns, to type the placeholders of INSERT ... SELECT (cached per database)."""
    key = (conn.info.dsn, table)
    if key not in _TYPES:
        rows = conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (f"raw.{table}",),
        ).fetchall()
        _TYPES[key] = dict(rows)
    return _TYPES[key]


def _as_db_value(value: Any) -> Any:
    if isinstance(value, JsonText):
        return value.text  # the statement casts it to the column's type (jsonb)
    return Jsonb(value) if isinstance(value, (dict, list)) else value


def _land_on(conn: psycopg.Connection, table: str, key_column: str, rows: Sequence[Mapping[str, Any]],
             on_conflict: str) -> Landed:
    columns = tuple(rows[0])
    types = _column_types(conn, table)
    statement = sql.SQL(_LAND).format(
        hashes=sql.Placeholder(),
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(types[c])) for c in columns),
        key=sql.Identifier(key_column),
        on_conflict=sql.SQL(on_conflict),
    )
    params = [[landing_hashes(row), *(_as_db_value(row[c]) for c in columns)] for row in rows]
    result = Landed()
    with conn.cursor() as cur:
        # executemany pipelines the statements: one round trip per batch, not per row.
        cur.executemany(statement, params, returning=True)
        while True:
            is_forgotten, new, updated = cur.fetchone()
            result.forgotten += int(is_forgotten)
            result.new += new
            result.updated += updated
            if not cur.nextset():
                break
    if result.forgotten:
        log.info("%d row(s) for raw.%s dropped: they name a forgotten person", result.forgotten, table)
    return result


def land(
    target: psycopg.Connection | ConnectionPool,
    table: str,
    key_column: str,
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    on_conflict: str = "do nothing",
    timeout: float | None = None,
) -> Landed:
    """Land one row (a mapping) or a batch (same columns each) into `raw.<table>`, all or nothing.

    `on_conflict` is the action after `on conflict (key_column)`; the existing row is
    `existing`. `timeout` overrides a pool's wait for a connection (the click path waits
    less). Raises `DatabaseUnavailable` when a pool cannot give a working connection.
    """
    batch = [rows] if isinstance(rows, Mapping) else list(rows)
    if not batch:
        return Landed()
    if isinstance(target, psycopg.Connection):
        return _land_on(target, table, key_column, batch, on_conflict)
    try:
        for attempt in (1, 2):
            try:
                with target.connection(timeout=timeout) as conn, conn.transaction():
                    return _land_on(conn, table, key_column, batch, on_conflict)
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                # A pooled connection an outage broke: the pool has dropped it; retry once.
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable while landing into raw.%s: %s", table, type(exc).__name__)
        raise DatabaseUnavailable(str(exc)) from exc


# --- group commit (the HTTP app) ------------------------------------------------------

_BATCH = """
insert into raw.{table} as existing ({cols})
select {cols}
from jsonb_to_recordset({rows}::jsonb) as v({typed_cols}, landing_ord bigint, landing_hashes text[])
where not exists (
    select 1 from raw.forgotten_identifier as f where f.identifier_hash = any(v.landing_hashes)
)
order by landing_ord
on conflict ({key}) do nothing
returning {key}
"""

# Only when a batch stored fewer rows than it carried: which rows were forgotten, and which were stored
# (the first of its key among the rows not forgotten: later copies are duplicates).
_OUTCOME = """
select is_forgotten,
       not is_forgotten and {key} = any({stored}::{key_type}[])
       and row_number() over (partition by {key}, is_forgotten order by landing_ord) = 1
from (
    select v.{key}, v.landing_ord, exists (
        select 1 from raw.forgotten_identifier as f where f.identifier_hash = any(v.landing_hashes)
    ) as is_forgotten
    from jsonb_to_recordset({rows}::jsonb) as v({key} {key_type}, landing_ord bigint, landing_hashes text[])
) as batch
order by landing_ord
"""


def _batch_statements(conn: psycopg.Connection, table: str, key_column: str,
                      columns: tuple[str, ...]) -> tuple[bytes, bytes]:
    """The batch insert for one table and set of columns (the rows come as one JSON array, one fixed text to
    prepare), and the query that sorts out a batch some of whose rows were not stored."""
    types = _column_types(conn, table)
    insert = sql.SQL(_BATCH).format(
        rows=sql.Placeholder(),
        typed_cols=sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in columns),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        table=sql.Identifier(table),
        key=sql.Identifier(key_column),
    ).as_bytes(conn)
    outcome = sql.SQL(_OUTCOME).format(
        stored=sql.Placeholder(), rows=sql.Placeholder(), key=sql.Identifier(key_column),
        key_type=sql.SQL(types[key_column]),
    ).as_bytes(conn)
    return insert, outcome


def _json_value(value: Any) -> str:
    """JSON for the values json.dumps does not know (timestamps, ids); Postgres casts them to the column's type."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    raise TypeError(f"cannot land a {type(value).__name__}")


@dataclass(eq=False)
class _Request:
    """One request's rows waiting for a group commit, and what became of them."""

    table: str
    key_column: str
    rows: list[Mapping[str, Any]]
    hashes: list[list[str]]
    timeout: float | None
    done: bool = False
    result: Landed = field(default_factory=Landed)
    error: BaseException | None = None
    # Held until the request is done or made the committer: its thread blocks on it, one wake-up each.
    wake: Any = field(default_factory=threading.Lock)


_encode = json.JSONEncoder(default=_json_value, separators=(",", ":")).encode


def _row_json(row: Mapping[str, Any], landing_ord: int, hashes: list[str]) -> str:
    """One row of a batch as JSON: `JsonText` values spliced in as they arrived, the rest serialised."""
    plain, spliced = {}, []
    for column, value in row.items():
        if type(value) is JsonText:
            spliced.append(f",{_encode(column)}:{value.text}")
        else:
            plain[column] = value
    plain["landing_ord"] = landing_ord
    plain["landing_hashes"] = hashes
    text = _encode(plain)
    return f"{text[:-1]}{''.join(spliced)}}}" if spliced else text


def _insert_group(conn: psycopg.Connection, statements: tuple[bytes, bytes], table: str, key_column: str,
                  requests: list[_Request]) -> None:
    """One statement for every row these requests land into one table; fills each request's `Landed`."""
    docs = []
    for request in requests:
        for row, hashes in zip(request.rows, request.hashes):
            docs.append(_row_json(row, len(docs) + 1, hashes))
    batch = f"[{','.join(docs)}]"
    insert, outcome = statements
    stored = [r[0] for r in conn.execute(insert, (batch,)).fetchall()]
    if len(stored) == len(docs):
        for request in requests:
            request.result.new += len(request.rows)
        return
    # A redelivery or a forgotten person in the batch: the database says which rows were which.
    position = 0
    fates = conn.execute(outcome, (stored, batch)).fetchall()
    for request in requests:
        for _ in request.rows:
            is_forgotten, is_new = fates[position]
            position += 1
            if is_forgotten:
                request.result.forgotten += 1
            elif is_new:
                request.result.new += 1  # a redelivery later in the same batch is a duplicate
    dropped = sum(r.result.forgotten for r in requests)
    if dropped:
        log.info("%d row(s) for raw.%s dropped: they name a forgotten person", dropped, table)


class GroupCommit:
    """Group commit for one process: concurrent requests share a transaction, each answered after its commit.

    Up to `max_inflight` commits run at once, each on its own pooled connection: with
    one, a request that arrived during a commit waited for that commit's WAL flush and
    then for its own, which made the path slower than a transaction per request
    (Postgres flushes concurrent commits together). Two measured as fast as four
    against the bare app, at less CPU a request, since batches stay larger. A request that finds a slot free
    and no commit forming leads one: it waits, up to `linger_s`, for the requests this
    process is still handling (`expect` counts them in, `unexpect` out when one ends
    without landing) to queue their rows, then commits its rows with those queued, up
    to `max_rows` rows. Requests that arrive while a leader lingers, or while every
    slot is taken, queue; a leader that finishes hands its slot to the oldest queued
    request. Nothing is buffered without a request thread waiting on it, so a worker
    that stops after its requests end has lost nothing.
    An outage fails the whole batch with `DatabaseUnavailable` (each request answers
    503) and stores nothing; a row Postgres refuses (`psycopg.DataError`) sends the
    batch back one request at a time, so only the request that carried it fails.
    """

    def __init__(self, pool: ConnectionPool, *, max_rows: int = 64, linger_s: float = 0.002, max_inflight: int = 2):
        self._pool = pool
        self._max_rows = max_rows
        self._linger_s = linger_s
        self.max_inflight = max_inflight
        self._mutex = threading.Lock()
        self._arrived = threading.Condition(self._mutex)  # only lingering leaders wait on it
        self._queue: list[_Request] = []
        self._coming = 0
        self._inflight = 0
        self._lingering = 0
        self._forming = 0  # requests handed a slot that have not yet taken their batch
        self._statements: dict[tuple, tuple[bytes, bytes]] = {}
        self.batches = 0

    def expect(self) -> None:
        """A request began that may land: a leader may wait a moment for it."""
        with self._mutex:
            self._coming += 1

    def unexpect(self) -> None:
        """An expected request ended without landing (refused, or not a landing endpoint)."""
        with self._mutex:
            self._coming = max(0, self._coming - 1)
            if self._lingering:
                self._arrived.notify_all()

    @property
    def waiting(self) -> int:
        """Requests queued for a commit (not counting those in a commit under way)."""
        with self._mutex:
            return len(self._queue)

    def land(self, table: str, key_column: str, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
             timeout: float | None = None, expected: bool = False) -> Landed:
        """Land one row or one request's batch (same columns each) into `raw.<table>`; returns after its commit.

        `expected`: this request was counted in by `expect` (and is counted out here).
        """
        batch = [rows] if isinstance(rows, Mapping) else list(rows)
        request = _Request(table, key_column, batch, [landing_hashes(r) for r in batch], timeout)
        request.wake.acquire()
        with self._mutex:
            if expected:
                self._coming = max(0, self._coming - 1)
            if not batch:
                if self._lingering:
                    self._arrived.notify_all()
                return Landed()
            leads = not (self._lingering or self._forming) and self._inflight < self.max_inflight
            if leads:
                self._inflight += 1
            else:
                self._queue.append(request)
                if self._lingering:
                    self._arrived.notify_all()
        if not leads:
            request.wake.acquire()  # released when done, or when this request is handed a slot
        if not request.done:
            self._lead(request, handed=not leads)
        if request.error is not None:
            raise request.error
        return request.result

    def _lead(self, own: _Request, handed: bool) -> None:
        """Holding a slot: commit `own` with what is queued, then hand the slot to the oldest queued request.

        One successor at a time takes the queue: leaders finishing together free their
        slots rather than each waking a successor that would split the queue.
        """
        taken = [own]
        try:
            with self._mutex:
                taken += self._take(self._max_rows - len(own.rows))
                if handed:
                    self._forming -= 1
            self._commit(taken)
        finally:
            for request in taken:
                if request is not own:
                    request.wake.release()
            with self._mutex:
                if self._queue and not self._forming:
                    self._forming += 1
                    self._queue.pop(0).wake.release()  # it leads the next commit in this slot
                else:
                    self._inflight -= 1

    def _take(self, room: int) -> list[_Request]:
        """Queued requests to commit with the leader's, up to `room` rows (called holding the lock)."""
        deadline = time.monotonic() + self._linger_s
        while self._coming and sum(len(r.rows) for r in self._queue) < room:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._lingering += 1
            self._arrived.wait(remaining)
            self._lingering -= 1
        taken, count = [], 0
        while self._queue and count + len(self._queue[0].rows) <= room:
            request = self._queue.pop(0)
            taken.append(request)
            count += len(request.rows)
        return taken

    def _commit(self, requests: list[_Request]) -> None:
        try:
            try:
                self._on_pool(requests, lambda conn: self._commit_on(conn, requests))
            except psycopg.Error:
                # A row Postgres refuses fails its own request only: land the batch one request at a time.
                for request in requests:
                    request.result = Landed()
                    try:
                        self._on_pool([request], lambda conn, r=request: self._commit_on(conn, [r]))
                    except (psycopg.Error, DatabaseUnavailable) as exc:
                        request.error = exc
            self.batches += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("landed %d request(s) in one commit: %s", len(requests),
                          ", ".join(f"raw.{r.table} {[row[r.key_column] for row in r.rows]}" for r in requests))
        except DatabaseUnavailable as exc:
            for request in requests:
                request.error = DatabaseUnavailable(str(exc))
        except BaseException as exc:
            for request in requests:
                request.error = exc
            raise
        finally:
            for request in requests:
                request.done = True

    def _commit_on(self, conn: psycopg.Connection, requests: list[_Request]) -> None:
        """Land every request of a batch in one transaction: one statement per table and set of columns."""
        groups: dict[tuple, list[_Request]] = {}
        for request in requests:
            groups.setdefault((request.table, request.key_column, tuple(request.rows[0])), []).append(request)
        statements = []
        for shape in groups:
            if shape not in self._statements:
                self._statements[shape] = _batch_statements(conn, *shape)
            statements.append(self._statements[shape])
        if len(groups) == 1 and conn.autocommit:
            # One statement is its own transaction: one round trip, no BEGIN/COMMIT.
            ((table, key_column, _), members), = groups.items()
            _insert_group(conn, statements[0], table, key_column, members)
            return
        with conn.transaction():
            for statement, ((table, key_column, _), members) in zip(statements, groups.items()):
                _insert_group(conn, statement, table, key_column, members)

    def _on_pool(self, requests: list[_Request], work) -> None:
        """Run `work` on a pooled connection, retrying once on a fresh one after an outage broke it."""
        timeouts = [r.timeout for r in requests if r.timeout is not None]
        timeout = min(timeouts) if timeouts else None
        try:
            for attempt in (1, 2):
                try:
                    with self._pool.connection(timeout=timeout) as conn:
                        work(conn)
                        return
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
        except (PoolTimeout, psycopg.OperationalError) as exc:
            tables = sorted({r.table for r in requests})
            log.warning("database unavailable while landing into %s: %s",
                        ", ".join(f"raw.{t}" for t in tables), type(exc).__name__)
            raise DatabaseUnavailable(str(exc)) from exc
