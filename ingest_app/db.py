"""The ingest app's connection pool, and `land` bound to it (the landing itself is ingest_app/landing.py).

Requests land through one `landing.GroupCommit` per worker process: concurrent
requests share a commit, and each answer is 2xx only after the commit holding its
rows; a redelivery is a no-op. Pooled connections are in autocommit, so a batch
into one table is a single statement and a single round trip.
When the database cannot be reached within a short timeout the caller gets
`DatabaseUnavailable`, which the app turns into 503 so the provider retries.
Connections are not pinged at checkout (a round trip per request); a connection an
outage broke fails its statement, the pool drops it, and `landing.land` retries once.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool, PoolTimeout

from gdp.db import database_url
from gdp.settings import Settings
from ingest_app import landing
from ingest_app.landing import DatabaseUnavailable

__all__ = ["DatabaseUnavailable", "init_app", "land", "ping", "pool", "unstorable"]


def init_app(app: Flask, settings: Settings) -> None:
    url = app.config.get("DATABASE_URL") or database_url(settings)
    timeout = settings.db_timeout_s
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=app.config.get("DB_POOL_MAX", 8),
        timeout=timeout,
        kwargs={"connect_timeout": max(1, int(timeout)), "options": "-c statement_timeout=5000", "autocommit": True},
        open=False,
        name="ingest",
    )
    pool.open(wait=False)
    app.extensions["gdp_pool"] = pool
    group = landing.GroupCommit(pool)
    app.extensions["gdp_group_commit"] = group

    # The group commit waits a moment for the requests this worker is still handling.
    @app.before_request
    def _expect_landing() -> None:
        group.expect()
        g.gdp_landing_expected = True

    @app.teardown_request
    def _landing_not_coming(_exc) -> None:
        if g.pop("gdp_landing_expected", False):
            group.unexpect()


def pool() -> ConnectionPool:
    return current_app.extensions["gdp_pool"]


def land(table: str, key_column: str, rows: Any, *, timeout: float | None = None) -> int:
    """Land a row (or a batch, all or nothing) through the app's pool; how many were new.

    0 for a redelivery or a forgotten person; `timeout` overrides the pool's wait (the click path waits less).
    """
    try:
        group = current_app.extensions["gdp_group_commit"]
        return group.land(table, key_column, rows, timeout=timeout, expected=g.pop("gdp_landing_expected", False)).new
    except psycopg.DataError as exc:
        raise unstorable(exc) from None


def unstorable(exc: psycopg.DataError) -> Exception:
    """A 400 for input Postgres refuses (e.g. `\\u0000` in JSON): a retry would fail the same way."""
    from ingest_app.errors import Rejected

    return Rejected(400, f"payload cannot be stored: {exc.diag.message_primary or type(exc).__name__}")


def ping() -> bool:
    try:
        with pool().connection() as conn:
            conn.execute("select 1")
        return True
    except (PoolTimeout, psycopg.OperationalError):
        return False
