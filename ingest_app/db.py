"""The connection pool and the one way rows land in `raw`.

Landing is `insert ... on conflict do nothing` keyed by the provider's id: the
answer is 2xx only after the insert has committed, and a redelivery is a no-op.
When the database cannot be reached within a short timeout the caller gets
`DatabaseUnavailable`, which the app turns into 503 so the provider retries.

A landing is one round trip: the tombstone check (`gdp person forget`) and the
insert are one statement. Connections are not pinged at checkout (a round trip
per request); a connection an outage broke fails its statement, the pool drops
it, and the landing is retried once on a fresh one.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from gdp.db import database_url
from gdp.settings import Settings
from privacy.forget import landing_hashes, tombstoned

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    pass


def init_app(app: Flask, settings: Settings) -> None:
    url = app.config.get("DATABASE_URL") or database_url(settings)
    timeout = settings.db_timeout_s
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=app.config.get("DB_POOL_MAX", 8),
        timeout=timeout,
        kwargs={"connect_timeout": max(1, int(timeout)), "options": "-c statement_timeout=5000"},
        open=False,
        name="ingest",
    )
    pool.open(wait=False)
    app.extensions["gdp_pool"] = pool


def pool() -> ConnectionPool:
    return current_app.extensions["gdp_pool"]


def _as_db_value(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, (dict, list)) else value


_LAND = """
with forgotten as (
    select exists (
        select 1 from raw.forgotten_identifier where identifier_hash = any({hashes}::text[])
    ) as is_forgotten
),
inserted as (
    insert into raw.{table} ({cols})
    select {vals}
    where not (select is_forgotten from forgotten)
    on conflict ({key}) do nothing
    returning 1
)
select (select is_forgotten from forgotten), (select count(*) from inserted)
"""


@lru_cache(maxsize=64)
def _column_types(url: str, table: str) -> dict[str, str]:
    """Postgres types of a raw table's columns, to type the placeholders of INSERT ... SELECT."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (f"raw.{table}",),
        ).fetchall()
    return dict(rows)


def _land_statement(table: str, key_column: str, columns: tuple[str, ...]) -> sql.Composed:
    types = _column_types(current_app.extensions["gdp_pool"].conninfo, table)
    return sql.SQL(_LAND).format(
        hashes=sql.Placeholder(),
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(types[c])) for c in columns),
        key=sql.Identifier(key_column),
    )


def land(table: str, key_column: str, row: dict[str, Any], *, timeout: float | None = None) -> bool:
    """Insert one raw row; True when it is new, False for a redelivery or a forgotten person.

    `timeout` overrides the pool's wait for a connection (the click path waits less).
    """
    columns = tuple(row)
    params = [landing_hashes(row), *(_as_db_value(row[c]) for c in columns)]
    try:
        statement = _land_statement(table, key_column, columns)
        for attempt in (1, 2):
            try:
                with pool().connection(timeout=timeout) as conn:
                    is_forgotten, inserted = conn.execute(statement, params).fetchone()
                break
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                # A pooled connection an outage broke: the pool has dropped it; retry once.
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable while landing into raw.%s: %s", table, type(exc).__name__)
        raise DatabaseUnavailable(str(exc)) from exc
    except psycopg.DataError as exc:
        raise unstorable(exc) from None
    if is_forgotten:
        log.info("delivery for raw.%s dropped: it names a forgotten person", table)
    return inserted == 1


def unstorable(exc: psycopg.DataError) -> Exception:
    """A 400 for input Postgres refuses (e.g. `\\u0000` in JSON): a retry would fail the same way."""
    from ingest_app.errors import Rejected

    return Rejected(400, f"payload cannot be stored: {exc.diag.message_primary or type(exc).__name__}")


def without_forgotten(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that name no forgotten person, with one lookup for the whole batch."""
    per_row = [set(landing_hashes(r)) for r in rows]
    dead = tombstoned(conn, sorted(set().union(*per_row))) if rows else set()
    return [r for r, hashes in zip(rows, per_row) if not hashes & dead]


def ping() -> bool:
    try:
        with pool().connection() as conn:
            conn.execute("select 1")
        return True
    except (PoolTimeout, psycopg.OperationalError):
        return False
