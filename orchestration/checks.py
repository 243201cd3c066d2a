"""Asset checks that are not dbt tests: what an operator must know before (and after) a send leaves.

The data guards are dbt tests of the cycle selection, which Dagster shows as checks on
the models they test (dagster-dbt): capture completeness (`assert_every_raw_row_captured`,
on `event`), identity quarantine size (`assert_identity_quarantine_under_limit`, var
identity_quarantine_max), component convergence. A failing one fails the dbt build, so the
ledger and the activations of that run do not run, exactly as in `gdp refresh`.
Blocking here: the blast-radius guard, a ledger rule (this cycle's ledger held transitions
because a segment moved more than its threshold; someone must look before anything is sent).
Non-blocking: raw source freshness (each source's dbt `freshness`), and the estimated Meta
match quality on `meta_capi_events`.
"""

from collections.abc import Mapping
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)
from psycopg import sql

from activation.match_quality import MATCH_KEY_WEIGHTS, measure
from gdp.settings import get_settings
from orchestration.assets import LEDGER_KEY, OUTBOX_CHANNELS_WORKED
from orchestration.dbt_assets import source_freshness_specs
from orchestration.resources import NotifierResource, PostgresResource

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


# --- raw source freshness -------------------------------------------------------------


def evaluate_freshness(age_s: float | None, freshness: Mapping[str, Any]) -> tuple[bool, AssetCheckSeverity, str]:
    """Apply a dbt `freshness` block (warn_after / error_after) to the newest row's age."""

    def limit(key: str) -> float | None:
        rule = freshness.get(key) or {}
        if not rule.get("count") or not rule.get("period"):
            return None
        return rule["count"] * PERIOD_SECONDS[rule["period"]]

    warn_s, error_s = limit("warn_after"), limit("error_after")
    if age_s is None:
        # A fresh install, or a source nobody has used yet (no one unsubscribed): nothing can be stale.
        return True, AssetCheckSeverity.WARN, "Does not apply yet: no row has ever landed in this table (it applies from the first row)."
    if error_s is not None and age_s > error_s:
        return False, AssetCheckSeverity.ERROR, f"Newest row is {age_s / 3600:.1f} h old (error after {error_s / 3600:g} h)."
    if warn_s is not None and age_s > warn_s:
        return False, AssetCheckSeverity.WARN, f"Newest row is {age_s / 3600:.1f} h old (warn after {warn_s / 3600:g} h)."
    return True, AssetCheckSeverity.WARN, f"Newest row is {age_s / 3600:.1f} h old."


def freshness_check(spec: Mapping[str, Any]):
    key: AssetKey = spec["key"]
    loaded_at = spec["loaded_at_field"] or "received_at"

    @asset_check(
        asset=key,
        name="freshness",
        description=f"Age of the newest row by {loaded_at}, against the source's dbt freshness.",
    )
    def _freshness(postgres: PostgresResource) -> AssetCheckResult:
        query = sql.SQL("select extract(epoch from now() - max({col}))::float8, count(*) from {table}").format(
            col=sql.Identifier(loaded_at), table=sql.Identifier(spec["schema"], spec["table"])
        )
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            age_s, rows = conn.execute(query).fetchone()
        passed, severity, description = evaluate_freshness(age_s, spec["freshness"])
        return AssetCheckResult(
            passed=passed,
            severity=severity,
            description=description,
            metadata={"rows": rows, "newest_row_age_s": round(age_s, 1) if age_s is not None else -1.0},
        )

    return _freshness


# --- blocking checks on the ledger ------------------------------------------------------


@asset_check(
    asset=LEDGER_KEY,
    blocking=True,
    description="No transition of this cycle is held by the blast-radius guard (approve with `gdp segments approve`).",
)
def blast_radius_guard(
    context: AssetCheckExecutionContext, postgres: PostgresResource, notifier: NotifierResource
) -> AssetCheckResult:
    cycle_id = context.run.run_id
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        held_now = conn.execute(
            "select segment, count(*) from activation.membership_transition"
            " where cycle_id = %s and is_held and approved_at is null group by segment order by segment",
            (cycle_id,),
        ).fetchall()
        (held_total,) = conn.execute(
            "select count(*) from activation.membership_transition where is_held and approved_at is null"
        ).fetchone()
    held = {segment: n for segment, n in held_now}
    if held:
        lines = ", ".join(f"{s} ({n})" for s, n in held.items())
        notifier.notify(
            f"Blast-radius guard held transitions in cycle {cycle_id}: {lines}. "
            f"Nothing was sent in this run. Review, then `gdp segments approve <segment> {cycle_id}`."
        )
    return AssetCheckResult(
        passed=not held,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "No transition held in this cycle."
            if not held
            else "Held: " + ", ".join(f"{s} {n}" for s, n in held.items()) + f" — approve with `gdp segments approve <segment> {cycle_id}`."
        ),
        metadata={
            "cycle_id": cycle_id,
            "held_this_cycle": MetadataValue.json(held),
            "held_awaiting_approval_all_cycles": int(held_total),
        },
    )


# --- Meta match quality (after sending) -------------------------------------------------


@asset_check(
    asset=AssetKey("meta_capi_events"),
    description="Estimated Meta match quality (0–10, our estimate; Meta's own score is not published) of "
    "CAPI events prepared in the last 7 days from the share carrying em, ph, external_id, fbp, fbc, IP, user agent; "
    "coverage of every key sent (fn, ln, ct, st, zp, country too) and the estimate per event name in the metadata.",
)
def meta_match_quality(postgres: PostgresResource) -> AssetCheckResult:
    """Website events are held to the minimum; server-side conversions are only reported.

    A server-side conversion (action_source system_generated) has no browser, so no IP,
    user agent, fbp or fbc: its estimate tops out at em + ph + external_id = 5.5, below
    the default minimum by construction, which failed this check from the first conversion.
    """
    minimum = get_settings().check_match_quality_min
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        website = measure(conn, "website")
        server = measure(conn, "system_generated")
    metadata = {
        "estimated_match_quality": website.score,
        "events": website.events,
        "key_shares": MetadataValue.json({k: round(v, 4) for k, v in website.shares.items()}),
        "server_side_events": server.events,
        "server_side_estimated_match_quality": server.score,
        "server_side_key_shares": MetadataValue.json({k: round(v, 4) for k, v in server.shares.items()}),
        "by_event_name": MetadataValue.json({name: {"events": n, "estimated_match_quality": s}
                                             for name, (n, s) in {**server.by_event, **website.by_event}.items()}),
        "weights": MetadataValue.json(MATCH_KEY_WEIGHTS),
    }
    server_note = (f" {server.events} server-side conversions (estimate {server.score}/10) are reported, not held to it: "
                   "they carry no IP, user agent, fbp or fbc." if server.events else "")
    if not website.events:
        return AssetCheckResult(passed=True, description="Does not apply yet: no website CAPI events prepared in the last 7 days."
                                + server_note, metadata=metadata)
    return AssetCheckResult(
        passed=website.score >= minimum,
        severity=AssetCheckSeverity.WARN,
        description=f"Estimated match quality {website.score}/10 over {website.events} website events (minimum {minimum}). "
        "An estimate from key coverage: Meta does not publish its Event Match Quality weights." + server_note,
        metadata=metadata,
    )


# --- dead outbox rows (after sending) ---------------------------------------------------


def dead_rows_check(asset_name: str, outbox_channels: tuple[str, ...]):
    """WARN while rows of these outbox channels sit `dead` (gave up after retries), until an operator retries them."""

    @asset_check(
        asset=AssetKey(asset_name),
        name="dead_outbox_rows",
        description=f"No {', '.join(outbox_channels)} row of activation.outbox is dead; "
        "list them with `gdp outbox list`, send them again with `gdp outbox retry`.",
    )
    def _dead_rows(postgres: PostgresResource) -> AssetCheckResult:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            rows = conn.execute(
                "select channel, coalesce(segment, '-'), count(*), max(updated_at) from activation.outbox"
                " where status = 'dead' and channel = any(%s) group by 1, 2 order by 1, 2",
                (list(outbox_channels),),
            ).fetchall()
        per_channel = {c: 0 for c in outbox_channels}
        per_segment: dict[str, int] = {}
        for channel, segment, n, _ in rows:
            per_channel[channel] += n
            per_segment[segment] = per_segment.get(segment, 0) + n
        total = sum(per_channel.values())
        newest = max((r[3] for r in rows), default=None)
        counts = ", ".join(f"{c} {n}" for c, n in per_channel.items() if n)
        first = next((c for c, n in per_channel.items() if n), outbox_channels[0])
        return AssetCheckResult(
            passed=total == 0,
            severity=AssetCheckSeverity.WARN,
            description=("No dead rows." if not total else
                         f"{total} dead row(s) ({counts}): `gdp outbox list --status dead --channel {first}`, "
                         "then `gdp outbox retry --status dead` once the cause is fixed."),
            metadata={
                "dead_rows": total,
                "dead_per_channel": MetadataValue.json(per_channel),
                "dead_per_segment": MetadataValue.json(per_segment),
                "newest_dead_at": MetadataValue.text(newest.isoformat() if newest else "none"),
            },
        )

    return _dead_rows


def all_checks() -> list:
    raw_sources = {spec["key"]: spec for spec in source_freshness_specs() if spec["schema"] == "raw"}
    return [
        *(freshness_check(spec) for spec in raw_sources.values()),
        blast_radius_guard,
        meta_match_quality,
        *(dead_rows_check(name, channels) for name, channels in OUTBOX_CHANNELS_WORKED.items()),
    ]
