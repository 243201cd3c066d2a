"""Estimated Meta match quality of the CAPI events activation prepared.

Meta scores Event Match Quality 0–10 per event type and does not publish its
weights; it says email, phone, fbc, fbp, external_id, IP and user agent all
raise it, email most. The weights below are OUR estimate, chosen so an event
carrying all seven scores 10 and email alone scores 3. The figure tracks the
direction of Meta's score, not its value: compare with Events Manager.
Coverage is also measured for the keys outside the estimate (fn, ln, ct, st, zp,
country), and the estimate per event name, as Meta scores each event type.
Used by the Dagster asset check and the demo report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

MATCH_KEY_WEIGHTS: dict[str, float] = {
    "em": 3.0,
    "ph": 1.5,
    "external_id": 1.0,
    "fbc": 1.5,
    "fbp": 1.0,
    "client_ip_address": 1.0,
    "client_user_agent": 1.0,
}

# Every key activation sends when known, in the order reports list them.
COVERAGE_KEYS = ("em", "ph", "external_id", "fbc", "fbp", "client_ip_address", "client_user_agent",
                 "fn", "ln", "ct", "st", "zp", "country")

_PREPARED = """
with prepared as (
    select
        coalesce(payload -> 'user_data', payload -> 'data' -> 0 -> 'user_data', '{{}}'::jsonb) as user_data,
        coalesce(payload ->> 'event_name', '') as event_name
    from activation.outbox
    where channel = 'meta_capi' and payload is not null and created_at > now() - interval '7 days'
      and {source_filter}
)
select {group} count(*) as events, {shares} from prepared {group_by}
"""


@dataclass(frozen=True)
class MatchQuality:
    events: int
    shares: dict[str, float]  # every key in COVERAGE_KEYS
    score: float
    by_event: dict[str, tuple[int, float]] = field(default_factory=dict)  # event_name -> (events, score)


def estimate_match_quality(shares: Mapping[str, float]) -> float:
    """0–10 from the share (0..1) of events carrying each key; see MATCH_KEY_WEIGHTS."""
    return round(sum(weight * float(shares.get(key, 0.0)) for key, weight in MATCH_KEY_WEIGHTS.items()), 2)


def measure(conn: psycopg.Connection, action_source: str | None = None) -> MatchQuality:
    """Key coverage over CAPI events prepared in the last 7 days (of one `action_source`, if given),
    and its estimate, overall and per event name."""
    shares = sql.SQL(",\n    ").join(
        sql.SQL(
            "coalesce(avg(case when coalesce(user_data ->> {key}, '') not in ('', '[]') then 1.0 else 0.0 end), 0)"
            "::float8 as {name}"
        ).format(key=sql.Literal(key), name=sql.Identifier(key))
        for key in COVERAGE_KEYS
    )
    source_filter = sql.SQL("payload ->> 'action_source' = {}").format(sql.Literal(action_source)) if action_source else sql.SQL("true")
    cur = conn.execute(sql.SQL(_PREPARED).format(shares=shares, source_filter=source_filter, group=sql.SQL(""), group_by=sql.SQL("")))
    row = cur.fetchone()
    values = dict(zip([d.name for d in cur.description], row))
    events = int(values.pop("events"))
    by_event = {}
    for name, n, *key_shares in conn.execute(sql.SQL(_PREPARED).format(
            shares=shares, source_filter=source_filter, group=sql.SQL("event_name,"),
            group_by=sql.SQL("group by event_name order by event_name"))):
        by_event[name] = (int(n), estimate_match_quality(dict(zip(COVERAGE_KEYS, key_shares))))
    return MatchQuality(events, values, estimate_match_quality(values) if events else 0.0, by_event)
