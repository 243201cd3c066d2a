"""The connection pool and the one way rows land in `raw`.

Landing is `insert ... on conflict do nothing` keyed by the provider's id: the
answer is 2xx only after the insert has committed, and a redelivery is a no-op.
When the database cannot be reached within a short timeout the caller gets
`DatabaseUnavailable`, which the app turns into 503 so the provider retries.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from gdp.db import database_url
from gdp.forget import landing_hashes, tombstoned
from gdp.settings import Settings

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
        # A connection broken by an outage is found at checkout and replaced,
        # so the pool recovers without restarting the app.
        check=ConnectionPool.check_connection,
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


def land(table: str, key_column: str, row: dict[str, Any]) -> bool:
    """Insert one raw row; True when it is new, False for a redelivery."""
    columns = list(row)
    statement = sql.SQL("insert into raw.{table} ({cols}) values ({vals}) on conflict ({key}) do nothing").format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        key=sql.Identifier(key_column),
    )
    try:
        with pool().connection() as conn:
            if is_forgotten(conn, row):
                log.info("delivery for raw.%s dropped: it names a forgotten person", table)
                return False
            cur = conn.execute(statement, [_as_db_value(row[c]) for c in columns])
            return cur.rowcount == 1
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable while landing into raw.%s: %s", table, type(exc).__name__)
        raise DatabaseUnavailable(str(exc)) from exc
    except psycopg.DataError as exc:
        raise unstorable(exc) from None


def unstorable(exc: psycopg.DataError) -> Exception:
    """A 400 for input Postgres refuses (e.g. `\\u0000` in JSON): a retry would fail the same way."""
    from ingest_app.errors import Rejected

    return Rejected(400, f"payload cannot be stored: {exc.diag.message_primary or type(exc).__name__}")


def is_forgotten(conn: psycopg.Connection, row: dict[str, Any]) -> bool:
    """True when the row names an identifier `gdp person forget` tombstoned.

    Such a delivery is answered like a redelivery (200, nothing stored): the
    provider stops retrying and the person does not come back. See gdp/forget.py.
    """
    return bool(tombstoned(conn, landing_hashes(row)))


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
