"""`gdp outbox list|retry`: the rows that ended `dead` or `failed`, and sending them again.

A retry re-queues rows under their own outbox keys (activation/replay.py says why
that cannot send twice); the next `gdp activate` or Dagster cycle sends them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import click
import psycopg

from gdp import db as gdb

CHANNELS = ("email", "meta_audience", "meta_capi", "notify_human", "tag_objection", "outbound", "webhook")
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d12h`, `3 days`, `1 week` → a timedelta; anything else is refused with the reason."""
    cleaned = text.strip().lower().replace(",", " ")
    parts = _PART.findall(cleaned)
    if not parts or _PART.sub("", cleaned).strip() or any(unit not in _UNITS for _, unit in parts):
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, e.g. 90s, 30m, 2h, 3d, 1w or '2 hours'")
    return timedelta(seconds=sum(float(n) * _UNITS[unit] for n, unit in parts))


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _filters(fn):
    options = [
        click.option("--status", "statuses", multiple=True, type=click.Choice(("dead", "failed")),
                     help="Only this status (repeatable; default both dead and failed)."),
        click.option("--channel", type=click.Choice(CHANNELS), help="Only this outbox channel."),
        click.option("--segment", help="Only rows of this segment."),
        click.option("--since", type=Duration(), help="Only rows that ended within this long, e.g. 30m, 2h, 3d, '1 week'."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _filter(statuses, channel, segment, since):
    from activation.replay import RETRYABLE, OutboxFilter

    return OutboxFilter(statuses=tuple(statuses) or RETRYABLE, channel=channel, segment=segment, since=since)


def _table(rows) -> str:
    headers = ("outbox_id", "channel", "status", "segment", "person_id", "attempts", "ended_at", "error")
    cells = [headers] + [
        (str(r.outbox_id), r.channel, r.status, r.segment or "", r.person_id or "", str(r.attempts),
         r.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"), (r.error or "").replace("\n", " ")[:100])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells)


@click.group("outbox")
def outbox_group() -> None:
    """The activation outbox: list rows that ended dead or failed, and queue them again."""


@outbox_group.command("list")
@_filters
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Rows to show (newest first).")
def outbox_list(statuses, channel, segment, since, limit) -> None:
    """Rows that ended dead (gave up after retries) or failed (refused), newest first."""
    from activation.replay import counts, list_rows

    flt = _filter(statuses, channel, segment, since)
    with psycopg.connect(gdb.database_url(), autocommit=True) as conn:
        rows = list_rows(conn, flt, limit)
        totals = counts(conn, flt)
    if not rows:
        click.echo("No dead or failed rows match.")
        return
    click.echo(_table(rows))
    summary = ", ".join(f"{channel} {status} {n}" for (channel, status), n in totals.items())
    shown = f"showing {len(rows)} of {sum(totals.values())}" if sum(totals.values()) > len(rows) else f"{len(rows)} row(s)"
    click.echo(f"{shown}: {summary}")


@outbox_group.command("retry")
@_filters
@click.option("--dry-run", is_flag=True, help="Show what would be queued again; change nothing.")
def outbox_retry(statuses, channel, segment, since, dry_run) -> None:
    """Queue matching rows again under their own keys; the next `gdp activate` sends them once."""
    from activation.replay import retry

    flt = _filter(statuses, channel, segment, since)
    with psycopg.connect(gdb.database_url()) as conn:
        rows = retry(conn, flt, dry_run=dry_run)
    if not rows:
        click.echo("No dead or failed rows match: nothing to retry.")
        return
    click.echo(_table(rows))
    if dry_run:
        click.echo(f"dry-run: {len(rows)} row(s) would be queued again; nothing changed.")
    else:
        click.echo(f"{len(rows)} row(s) queued again (pending, due now, same outbox keys); "
                   "`gdp activate` or the next Dagster cycle sends them.")
