"""How long a person waits: from qualifying (the event that put them in a segment)
to the provider accepting the action, read from activation.outbox.

The outbox row carries `qualified_at` (copied from the ledger transition, i.e. the
qualifying event's time) and `sent_at` (when the provider answered 2xx, or when a
dry-run rendered it). The figure is what an operator promises: "a person who
qualifies gets the email within N seconds".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from gdp.durations import human_duration

# Channels whose action reaches a provider or a person. tag_objection writes a tag on a
# deal and nothing leaves the system, so it is not a send and never counts here.
SEND_CHANNELS = ("email", "meta_audience", "meta_capi", "notify_human")
SENT_STATUSES = ("sent",)
# Dry-run renders ("preview" is the name activation may give them) count only when asked.
DRY_RUN_STATUSES = ("sent", "dry_run", "preview")


@dataclass(frozen=True)
class LatencyReport:
    channel: str  # a channel name, or "all"
    count: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None

    def line(self) -> str:
        if not self.count:
            return f"{self.channel:<14} no sends with a qualification time yet"
        return (
            f"{self.channel:<14} n={self.count:<7} p50={human_duration(self.p50_s):<12} "
            f"p95={human_duration(self.p95_s):<12} max={human_duration(self.max_s)}"
        )


def latency(
    url: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    cycle_id: str | None = None,
    include_dry_run: bool = False,
) -> list[LatencyReport]:
    """p50/p95 qualification → send per channel, plus an "all" row (first); only SEND_CHANNELS count."""
    statuses = list(DRY_RUN_STATUSES if include_dry_run else SENT_STATUSES)
    where = [
        sql.SQL("status = any({})").format(sql.Literal(statuses)),
        sql.SQL("channel = any({})").format(sql.Literal(list(SEND_CHANNELS))),
        sql.SQL("qualified_at is not null"),
        sql.SQL("sent_at is not null"),
    ]
    if channel:
        where.append(sql.SQL("channel = {}").format(sql.Literal(channel)))
    if since:
        where.append(sql.SQL("sent_at >= {}").format(sql.Literal(since)))
    if cycle_id:
        where.append(sql.SQL("cycle_id = {}").format(sql.Literal(cycle_id)))
    query = sql.SQL(
        """
        with sends as (
            select channel, extract(epoch from (sent_at - qualified_at))::float8 as wait_s
            from activation.outbox
            where {where}
        ),
        final as (
            select
                coalesce(channel, 'all') as channel,
                count(*) as n,
                percentile_cont(0.5) within group (order by wait_s) as p50_s,
                percentile_cont(0.95) within group (order by wait_s) as p95_s,
                max(wait_s) as max_s
            from sends
            group by grouping sets ((), (channel))
        )
        select * from final order by (channel = 'all') desc, channel
        """
    ).format(where=sql.SQL(" and ").join(where))
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(query).fetchall()
    reports = [LatencyReport(ch, n, p50, p95, mx) for ch, n, p50, p95, mx in rows if n]
    if not reports:
        reports = [LatencyReport(channel or "all", 0, None, None, None)]
    return reports
