"""The outbox: one row per intended action, written before any provider call.

Workers claim due rows with `FOR UPDATE SKIP LOCKED` inside a transaction that
stays open across the provider call, so two workers never hold the same row,
and a crash rolls the claim back: the row is still `pending` and the next run
repeats the call with the same Idempotency-Key, which the provider deduplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from activation.http import ProviderError
from gdp.settings import Settings

STATUSES = (
    "pending", "sent", "failed", "dead", "skipped_suppressed", "skipped_cap",
    "held", "holdout", "dry_run", "expired", "skipped", "deferred",
)
# What a keyed run may still do something about; everything else is final.
OPEN_STATUSES = ("pending", "deferred", "dry_run")


@dataclass
class ActivationReport:
    """What one `activate` run did, by channel and resulting status."""

    counts: Counter = field(default_factory=Counter)
    planned: int = 0
    transitions: int = 0  # ledger transitions this pass planned (new, or released by approval)
    notes: list[str] = field(default_factory=list)
    dry_run_channels: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # channel -> why it stopped

    def add(self, channel: str, status: str, n: int = 1) -> None:
        if n:
            self.counts[(channel, status)] += n

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def total(self, channel: str | None = None, status: str | None = None) -> int:
        return sum(n for (c, s), n in self.counts.items() if (channel is None or c == channel) and (status is None or s == status))

    def summary(self) -> str:
        lines = [f"planned {self.planned} action(s) from {self.transitions} ledger transition(s)"]
        for channel in sorted({c for c, _ in self.counts}):
            parts = ", ".join(f"{n} {s}" for (c, s), n in sorted(self.counts.items()) if c == channel)
            lines.append(f"  {channel}: {parts}")
        if self.dry_run_channels:
            lines.append(f"dry-run (nothing left this machine): {', '.join(sorted(self.dry_run_channels))}")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"ERROR {channel} stopped: {why}" for channel, why in sorted(self.errors.items())]
        return "\n".join(lines)


@dataclass
class Run:
    """Everything a worker needs for one pass."""

    url: str
    settings: Settings
    report: ActivationReport
    dry_run: dict[str, bool]
    progress: Callable[[str], None] = lambda message: None
    # The clock of this pass for due times and caps; None is the database's now(). Tests move it.
    now: datetime | None = None

    @property
    def schema(self) -> str:
        return self.settings.dbt_schema

    def clock(self, conn: psycopg.Connection) -> datetime:
        return self.now or conn.execute("select now()").fetchone()[0]


def insert_action(
    conn: psycopg.Connection,
    *,
    outbox_key: str,
    channel: str,
    status: str,
    segment: str | None = None,
    person_id: str | None = None,
    transition_id: int | None = None,
    transition: str | None = None,
    step: int = 0,
    action: dict[str, Any] | None = None,
    payload: Any = None,
    error: str | None = None,
    qualified_at: datetime | None = None,
    cycle_id: str | None = None,
    provider_id: str | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Insert an action once; a `held` row becomes the new status when its transition is approved."""
    row = conn.execute(
        """
        insert into activation.outbox as o (
            outbox_key, channel, status, segment, person_id, transition_id, transition, step, action,
            payload, error, qualified_at, cycle_id, provider_id, next_attempt_at,
            sent_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()),
                case when %s = 'sent' then now() end)
        on conflict (outbox_key) do update
            set status = excluded.status, error = excluded.error, provider_id = excluded.provider_id,
                sent_at = excluded.sent_at, updated_at = now()
            where o.status = 'held' and excluded.status <> 'held'
        returning outbox_id
        """,
        (
            outbox_key, channel, status, segment, person_id, transition_id, transition, step,
            Jsonb(action or {}), Jsonb(payload) if payload is not None else None, error, qualified_at,
            cycle_id, provider_id, next_attempt_at, status,
        ),
    ).fetchone()
    return row is not None


_ACTION_COLUMNS = sql.SQL(
    "outbox_key text, channel text, status text, segment text, person_id text, transition_id bigint, transition text, "
    "step integer, action jsonb, error text, qualified_at timestamptz, cycle_id text, provider_id text"
)


def insert_actions(conn: psycopg.Connection, actions: list[dict[str, Any]]) -> int:
    """Many planned actions in one statement, with insert_action's rule; returns rows written.

    The rows travel as one JSON document (cheaper to build than typed arrays). The first
    action of a key wins, as it does when the same rows are inserted one by one.
    """
    unique: dict[str, dict[str, Any]] = {}
    for a in actions:
        unique.setdefault(a["outbox_key"], a)
    if not unique:
        return 0
    rows = [a | {"step": a.get("step", 0), "action": a.get("action") or {},
                 "qualified_at": a["qualified_at"].isoformat() if a.get("qualified_at") else None}
            for a in unique.values()]
    cur = conn.execute(
        sql.SQL(
            """insert into activation.outbox as o (outbox_key, channel, status, segment, person_id, transition_id, transition,
                                                  step, action, error, qualified_at, cycle_id, provider_id, sent_at)
               select a.*, case when a.status = 'sent' then now() end from jsonb_to_recordset(%s) as a ({columns})
               on conflict (outbox_key) do update
                   set status = excluded.status, error = excluded.error, provider_id = excluded.provider_id,
                       sent_at = excluded.sent_at, updated_at = now()
                   where o.status = 'held' and excluded.status <> 'held'"""
        ).format(columns=_ACTION_COLUMNS),
        (Jsonb(rows),),
    )
    return cur.rowcount


FORGOTTEN = "forgotten: an identifier of this person is tombstoned (gdp person forget)"


def cancel_forgotten(run: Run) -> int:
    """Cancel what waits for persons with a tombstoned identifier (rule: int_privacy__forgotten_persons, a live view),
    so a forget between a cycle and this pass still stops every send; returns outbox rows cancelled."""
    with psycopg.connect(run.url) as conn:
        if not conn.execute("select to_regclass(%s) is not null", (f'"{run.schema}"."int_privacy__forgotten_persons"',)).fetchone()[0]:
            run.report.note(f"{run.schema}.int_privacy__forgotten_persons not built yet: run dbt build")
            return 0
        forgotten = sql.SQL("select person_id from {}").format(sql.Identifier(run.schema, "int_privacy__forgotten_persons"))
        with conn.transaction():
            cancelled = conn.execute(
                sql.SQL("""update activation.outbox set status = 'skipped_suppressed', error = %s, updated_at = now()
                           where status in ('pending', 'held') and person_id in ({})""").format(forgotten),
                (FORGOTTEN,),
            ).rowcount
            conn.execute(
                sql.SQL("""update activation.sequence_enrollment set status = 'stopped', stopped_reason = 'forgotten', stopped_at = now()
                           where status = 'active' and person_id in ({})""").format(forgotten)
            )
    if cancelled:
        run.report.note(f"{cancelled} outbox row(s) cancelled: they were for forgotten persons")
    return cancelled


def claim_due(conn: psycopg.Connection, channels: tuple[str, ...], limit: int, *, also: str = "",
              params: tuple = (), now: datetime | None = None) -> list:
    """Lock this transaction's share of due pending rows; concurrent workers skip them (SKIP LOCKED).

    `also` is an extra fixed condition from the calling code (never user input); values it
    compares with go in `params`, bound to its `%s` placeholders.
    """
    query = sql.SQL(
        "select * from activation.outbox where channel = any(%s) and status = 'pending' "
        "and next_attempt_at <= coalesce(%s, now()) {also} order by outbox_id limit %s for update skip locked"
    ).format(also=sql.SQL(also))
    return conn.execute(query, (list(channels), now, *params, limit)).fetchall()


def release_previews(conn: psycopg.Connection, channels: tuple[str, ...], *, rerender: bool = False) -> int:
    """A keyed run takes back what a dry-run only previewed: `dry_run` rows become `pending` again.

    With `rerender` (emails) the stored body goes too, so the email is checked, capped and
    rendered again when it is really sent; nothing was sent under its key, so nothing repeats.
    """
    reset = ", payload = null, prepared_at = null, batch_key = null, send_single = false" if rerender else ""
    cur = conn.execute(
        sql.SQL("update activation.outbox set status = 'pending', sent_at = null, updated_at = now(){reset} "
                "where channel = any(%s) and status = 'dry_run'").format(reset=sql.SQL(reset)),
        (list(channels),),
    )
    return cur.rowcount


def has_open(conn: psycopg.Connection, channels: tuple[str, ...]) -> int:
    """How many actions of these channels still wait to be done (due or not)."""
    return conn.execute(
        "select count(*) from activation.outbox where channel = any(%s) and status = any(%s)",
        (list(channels), list(OPEN_STATUSES)),
    ).fetchone()[0]


def retry_later(conn: psycopg.Connection, settings: Settings, ids: list[int], error: ProviderError, attempts: int) -> str:
    """Schedule a retry with exponential backoff (or the provider's retry-after); dead after max attempts."""
    if attempts >= settings.activation_max_attempts:
        conn.execute(
            "update activation.outbox set status = 'dead', attempts = %s, error = %s, updated_at = now() where outbox_id = any(%s)",
            (attempts, f"gave up after {attempts} attempts: {error}", ids),
        )
        return "dead"
    delay = error.retry_after if error.retry_after is not None else settings.activation_retry_base_s * 2 ** (attempts - 1)
    conn.execute(
        """update activation.outbox set attempts = %s, error = %s, next_attempt_at = now() + %s, updated_at = now()
           where outbox_id = any(%s)""",
        (attempts, str(error), timedelta(seconds=delay), ids),
    )
    return "retry"


def call_failed(run: Run, conn: psycopg.Connection, channel: str, rows: list, error: ProviderError) -> None:
    """One provider call for `rows` failed: retryable errors are rescheduled (`dead` after the last
    attempt), others end `failed` with the provider's answer; the run's report counts either."""
    ids = [r.outbox_id for r in rows]
    if error.retryable:
        outcome = retry_later(conn, run.settings, ids, error, max(r.attempts for r in rows) + 1)
        run.report.add(channel, "dead" if outcome == "dead" else "retry_scheduled", len(ids))
    else:
        finish(conn, ids, "failed", error=str(error), attempts_add=1)
        run.report.add(channel, "failed", len(ids))


def finish(conn: psycopg.Connection, ids: list[int], status: str, *, error: str | None = None, provider_id: str | None = None, attempts_add: int = 0) -> None:
    conn.execute(
        """update activation.outbox
           set status = %s, error = coalesce(%s, error), provider_id = coalesce(%s, provider_id),
               attempts = attempts + %s, updated_at = now(),
               sent_at = case when %s in ('sent', 'dry_run') then now() else sent_at end
           where outbox_id = any(%s)""",
        (status, error, provider_id, attempts_add, status, ids),
    )


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
