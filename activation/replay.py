"""The operator's side of the outbox: list what ended `dead` or `failed`, and queue it again.

A retry only turns rows back into `pending`: the outbox key, the stored request
body (`payload`) and the batch they travelled in (`batch_key`) stay, so the next
send repeats the identical request under the same Idempotency-Key, and a row the
provider had in fact accepted before its answer was lost is answered from the
provider's idempotency record instead of being sent twice. For the same reason a
row that travelled in a batch is re-queued with the whole batch: repeating a
batch key with other members would be another request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

RETRYABLE = ("dead", "failed")


@dataclass(frozen=True)
class OutboxFilter:
    """Which rows an operator means: statuses, and optionally one channel, one segment, a time window."""

    statuses: tuple[str, ...] = RETRYABLE
    channel: str | None = None
    segment: str | None = None
    since: timedelta | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statuses) - set(RETRYABLE))
        if unknown or not self.statuses:
            raise ValueError(f"only {' and '.join(RETRYABLE)} rows are listed or retried, not {', '.join(unknown) or 'none'}")

    def where(self) -> tuple[sql.Composable, list]:
        """The SQL condition (on alias `o`) and its parameters; every value is a bound parameter."""
        parts = [sql.SQL("o.status = any(%s)")]
        params: list = [list(self.statuses)]
        if self.channel:
            parts.append(sql.SQL("o.channel = %s"))
            params.append(self.channel)
        if self.segment:
            parts.append(sql.SQL("o.segment = %s"))
            params.append(self.segment)
        if self.since is not None:
            parts.append(sql.SQL("o.updated_at >= %s"))
            params.append(datetime.now(timezone.utc) - self.since)
        return sql.SQL(" and ").join(parts), params


@dataclass(frozen=True)
class OutboxRow:
    outbox_id: int
    outbox_key: str
    channel: str
    segment: str | None
    person_id: str | None
    status: str
    attempts: int
    error: str | None
    updated_at: datetime
    batch_key: str | None


_COLUMNS = sql.SQL("o.outbox_id, o.outbox_key, o.channel, o.segment, o.person_id, o.status, o.attempts, o.error, o.updated_at, o.batch_key")


def list_rows(conn: psycopg.Connection, flt: OutboxFilter, limit: int | None = None) -> list[OutboxRow]:
    """Matching rows, newest first."""
    where, params = flt.where()
    query = sql.SQL("select {cols} from activation.outbox o where {where} order by o.updated_at desc, o.outbox_id desc").format(
        cols=_COLUMNS, where=where)
    if limit is not None:
        query += sql.SQL(" limit %s")
        params = [*params, limit]
    with conn.cursor(row_factory=namedtuple_row) as cur:
        return [OutboxRow(*r) for r in cur.execute(query, params).fetchall()]


def counts(conn: psycopg.Connection, flt: OutboxFilter) -> dict[tuple[str, str], int]:
    """(channel, status) → rows matching, for summaries and checks."""
    where, params = flt.where()
    query = sql.SQL("select o.channel, o.status, count(*) from activation.outbox o where {where} group by 1, 2 order by 1, 2").format(
        where=where)
    return {(channel, status): n for channel, status, n in conn.execute(query, params).fetchall()}


def _selected_with_batches(conn: psycopg.Connection, flt: OutboxFilter) -> list[OutboxRow]:
    """The matching rows plus the dead/failed members of every batch one of them travelled in, locked."""
    where, params = flt.where()
    query = sql.SQL(
        """with picked as (select o.outbox_id, o.batch_key from activation.outbox o where {where})
           select {cols} from activation.outbox o
           where o.status = any(%s)
             and (o.outbox_id in (select outbox_id from picked)
                  or o.batch_key in (select batch_key from picked where batch_key is not null))
           order by o.outbox_id
           for update of o skip locked"""
    ).format(where=where, cols=_COLUMNS)
    with conn.cursor(row_factory=namedtuple_row) as cur:
        return [OutboxRow(*r) for r in cur.execute(query, [*params, list(RETRYABLE)]).fetchall()]


def retry(conn: psycopg.Connection, flt: OutboxFilter, *, dry_run: bool = False) -> list[OutboxRow]:
    """Queue matching rows again (pending, due now, attempts from zero); with dry_run, only say which.

    Runs in its own transaction; a dry run rolls it back, so it changes nothing.
    """
    rows: list[OutboxRow] = []
    with conn.transaction():
        rows = _selected_with_batches(conn, flt)
        if dry_run:
            raise psycopg.Rollback()
        conn.execute(
            """update activation.outbox
               set status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now(),
                   error = left('retried by operator at ' || to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                                || ' UTC; was ' || status || ': ' || coalesce(error, ''), 1000)
               where outbox_id = any(%s)""",
            ([r.outbox_id for r in rows],),
        )
    return rows
