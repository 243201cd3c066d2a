"""How long a person waits: from qualifying (the event that put them in a segment)
to the provider accepting the action, read from activation.outbox.

`stage_breakdown` splits the path of each send into the moments it passed:
landing (the qualifying event's raw `received_at`), trigger (Dagster run created),
launch (run started), dbt (the dbt step's end), ledger (the transition's
`recorded_at`) and activation (the outbox row's `sent_at`). The Dagster moments
come from the instance's run records when one is given; without them the later
stage is measured from the last moment known, and says so.

The outbox row carries `qualified_at` (copied from the ledger transition, i.e. the
qualifying event's time) and `sent_at` (when the provider answered 2xx, or when a
dry-run rendered it). The figure is what an operator promises: "a person who
qualifies gets the email within N seconds".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from gdp.durations import human_duration

# Channels whose action reaches a provider or a person. tag_objection writes a tag on a
# deal and nothing leaves the system, so it is not a send and never counts here.
SEND_CHANNELS = ("email", "meta_audience", "meta_capi", "notify_human", "webhook")
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


def _send_filters(alias: str | None, *, channel: str | None, since: datetime | None, cycle_id: str | None,
                  include_dry_run: bool) -> list[sql.Composable]:
    """The outbox rows both figures count: sends (or previews) of the send channels, narrowed as asked."""
    def column(name: str) -> sql.Identifier:
        return sql.Identifier(alias, name) if alias else sql.Identifier(name)

    statuses = list(DRY_RUN_STATUSES if include_dry_run else SENT_STATUSES)
    where = [
        sql.SQL("{} = any({})").format(column("status"), sql.Literal(statuses)),
        sql.SQL("{} = any({})").format(column("channel"), sql.Literal(list(SEND_CHANNELS))),
        sql.SQL("{} is not null").format(column("sent_at")),
    ]
    if channel:
        where.append(sql.SQL("{} = {}").format(column("channel"), sql.Literal(channel)))
    if since:
        where.append(sql.SQL("{} >= {}").format(column("sent_at"), sql.Literal(since)))
    if cycle_id:
        where.append(sql.SQL("{} = {}").format(column("cycle_id"), sql.Literal(cycle_id)))
    return where


def latency(
    url: str,
    *,
    channel: str | None = None,
    since: datetime | None = None,
    cycle_id: str | None = None,
    include_dry_run: bool = False,
) -> list[LatencyReport]:
    """p50/p95 qualification → send per channel, plus an "all" row (first); only SEND_CHANNELS count."""
    where = [*_send_filters(None, channel=channel, since=since, cycle_id=cycle_id, include_dry_run=include_dry_run),
             sql.SQL("qualified_at is not null")]
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


# The moments a send passes, in order; each stage ends at its moment.
STAGES = ("landing", "trigger", "launch", "dbt", "ledger", "activation")
DBT_STEP_PREFIX = "gdp_dbt"  # the dbt multi-asset's op name (orchestration/dbt_assets.py)


@dataclass(frozen=True)
class SendTimeline:
    """One send's moments (epoch seconds; None when not known). `qualified_at` is the event's own time."""

    outbox_key: str
    cycle_id: str | None
    qualified_at: float | None
    moments: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class StageReport:
    stage: str
    since: str  # the moment this stage is measured from
    count: int
    p50_s: float | None
    p95_s: float | None

    def line(self) -> str:
        label = f"{self.stage} (since {self.since})"
        if not self.count:
            return f"{label:<34} no timings"
        return f"{label:<34} n={self.count:<6} p50={human_duration(self.p50_s):<10} p95={human_duration(self.p95_s)}"


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    """p50/p95 by linear interpolation, as percentile_cont gives in `latency`."""
    if not values:
        return None, None
    ordered = sorted(values)

    def at(p: float) -> float:
        k = (len(ordered) - 1) * p
        lo = int(k)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)

    return at(0.5), at(0.95)


def stage_breakdown(timelines: Iterable[SendTimeline]) -> list[StageReport]:
    """p50/p95 per stage, then "total" (landing → activation), over sends with both ends known.

    The landing stage runs from the event's own time to its raw `received_at` (the
    provider's delivery delay); each later stage from the latest earlier moment known.
    """
    timelines = list(timelines)
    samples: dict[tuple[str, str], list[float]] = {}
    order: list[tuple[str, str]] = []
    for t in timelines:
        previous_name, previous = "qualified", t.qualified_at
        for stage in STAGES:
            moment = t.moments.get(stage)
            if moment is None:
                continue
            if previous is not None:
                key = (stage, previous_name)
                if key not in samples:
                    samples[key] = []
                    order.append(key)
                samples[key].append(moment - previous)
            previous_name, previous = stage, moment
    rank = {stage: i for i, stage in enumerate(STAGES)}
    reports = []
    for stage, since in sorted(order, key=lambda k: (rank[k[0]], -rank.get(k[1], -1))):
        p50, p95 = _quantiles(samples[(stage, since)])
        reports.append(StageReport(stage, since, len(samples[(stage, since)]), p50, p95))
    totals = [t.moments["activation"] - t.moments["landing"] for t in timelines
              if t.moments.get("landing") is not None and t.moments.get("activation") is not None]
    p50, p95 = _quantiles(totals)
    reports.append(StageReport("total", "landing", len(totals), p50, p95))
    return reports


def send_timelines(
    url: str,
    *,
    dbt_schema: str = "analytics",
    channel: str | None = None,
    since: datetime | None = None,
    cycle_id: str | None = None,
    include_dry_run: bool = False,
    limit: int = 10000,
) -> list[SendTimeline]:
    """Database moments of recent sends: raw landing of the qualifying event, ledger, send.

    The qualifying event is the person's event at the transition's `qualified_at` in
    the `event` mart, whose `received_at` is the raw row's landing time.
    """
    where = _send_filters("o", channel=channel, since=since, cycle_id=cycle_id, include_dry_run=include_dry_run)
    event = sql.Identifier(dbt_schema, "event")
    landed = sql.SQL(
        "(select extract(epoch from max(e.received_at))::float8 from {event} e"
        " where e.person_id = o.person_id and e.occurred_at = o.qualified_at)"
    ).format(event=event)
    query = sql.SQL(
        """
        select
            o.outbox_key,
            o.cycle_id,
            extract(epoch from o.qualified_at)::float8,
            {landed},
            extract(epoch from t.recorded_at)::float8,
            extract(epoch from o.sent_at)::float8
        from activation.outbox o
        left join activation.membership_transition t on t.transition_id = o.transition_id
        where {where}
        order by o.sent_at desc
        limit {limit}
        """
    )
    with psycopg.connect(url, autocommit=True) as conn:
        # Before the first dbt build there is no event mart, so no landing time to read.
        (have_events,) = conn.execute("select to_regclass(%s) is not null", (f"{dbt_schema}.event",)).fetchone()
        rows = conn.execute(query.format(
            landed=landed if have_events else sql.SQL("null::float8"),
            where=sql.SQL(" and ").join(where), limit=sql.Literal(limit),
        )).fetchall()
    return [
        SendTimeline(key, cycle, qualified, {"landing": landed, "ledger": ledger, "activation": sent})
        for key, cycle, qualified, landed, ledger, sent in rows
    ]


def dagster_run_moments(instance: Any, run_ids: Iterable[str]) -> dict[str, dict[str, float | None]]:
    """trigger (run created), launch (run started) and dbt (dbt step's success) per run id, from Dagster."""
    from dagster import DagsterEventType, RunsFilter

    ids = sorted({r for r in run_ids if r})
    moments: dict[str, dict[str, float | None]] = {}
    for start in range(0, len(ids), 100):
        for record in instance.get_run_records(filters=RunsFilter(run_ids=ids[start:start + 100])):
            run_id = record.dagster_run.run_id
            dbt_end = None
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS):
                if (entry.step_key or "").startswith(DBT_STEP_PREFIX):
                    dbt_end = max(dbt_end or 0.0, entry.timestamp)
            moments[run_id] = {
                "trigger": record.create_timestamp.timestamp(),
                "launch": record.start_time,
                "dbt": dbt_end,
            }
    return moments


def with_run_moments(
    timelines: Iterable[SendTimeline], runs: Mapping[str, Mapping[str, float | None]]
) -> list[SendTimeline]:
    return [
        SendTimeline(t.outbox_key, t.cycle_id, t.qualified_at, {**t.moments, **runs.get(t.cycle_id or "", {})})
        for t in timelines
    ]
