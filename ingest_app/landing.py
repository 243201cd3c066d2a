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
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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


def identifier_hash(value: str) -> str:
    """How a forgotten identifier is kept: SHA-256 of its normalized text, never the text."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _strings(value: Any) -> Iterable[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
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


def landing_hashes(row: Any) -> list[str]:
    """SHA-256 of every string in a row to land (trimmed), and of every email address inside one (lowercased),
    also percent-encoded ones (`?email=ada%40x.org` in a click URL or PostHog's `$current_url`)."""
    hashes = set()
    for text in _strings(row):
        stripped = text.strip()
        if stripped and len(stripped) <= MAX_EXACT_CHARS:
            hashes.add(identifier_hash(stripped))
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
                with target.connection(timeout=timeout) as conn:
                    return _land_on(conn, table, key_column, batch, on_conflict)
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                # A pooled connection an outage broke: the pool has dropped it; retry once.
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable while landing into raw.%s: %s", table, type(exc).__name__)
        raise DatabaseUnavailable(str(exc)) from exc
