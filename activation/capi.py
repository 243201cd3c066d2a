"""Conversions API delivery: relayed browser events and server-side conversions.

Sources: `raw.meta_capi_event` (landed by /api/meta/capi with the Pixel's event_id,
so Meta deduplicates browser and server) and conversions only the server sees,
defined in dbt's `activation_meta_conversion` (which events, as which Meta event,
with which value). Each becomes an outbox row keyed `capi:<event_id>` whose payload holds
only hashed identifiers. Meta refuses a whole request if one event is older than
7 days, so such events are expired with that reason before the call.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from activation.http import ProviderError
from activation.meta import EVENTS_LIMIT, MetaClient
from activation.meta_hashing import user_data
from activation.outbox import Run, cancel_forgotten, claim_due, finish, insert_action, retry_later
from activation.sources import relation_exists

CHANNEL = "meta_capi_events"
MAX_AGE = timedelta(days=7)


def _emails(conn: psycopg.Connection, schema: str, person_ids: list[str]) -> dict[str, dict]:
    """Email per person (Meta's `em` key) from activation_recipient; no model carries a phone."""
    ids = sorted({p for p in person_ids if p})
    if not ids or not relation_exists(conn, schema, "activation_recipient"):
        return {}
    query = sql.SQL("select person_id, email from {} where person_id = any(%s)").format(
        sql.Identifier(schema, "activation_recipient")
    )
    return {r[0]: {"em": r[1]} for r in conn.execute(query, (ids,)).fetchall()}


def _user_data(contact: dict, person_id: str | None, extra: dict) -> dict:
    raw = {"em": contact.get("em"), "external_id": person_id}
    raw.update({k: v for k, v in extra.items() if v})
    return user_data({k: v for k, v in raw.items() if v not in (None, "")})


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def enqueue(run: Run, conn: psycopg.Connection) -> int:
    """Write one outbox row per conversion not yet queued."""
    queued = 0
    while True:
        with conn.transaction():
            rows = conn.execute(
                """select e.* from raw.meta_capi_event e
                   where not exists (select 1 from activation.outbox o where o.outbox_key = 'capi:' || e.event_id)
                   order by e.landing_id limit 1000"""
            ).fetchall()
            if not rows:
                break
            contacts = _emails(conn, run.schema, [r.person_id for r in rows])
            for r in rows:
                event = {
                    "event_name": r.event_name,
                    "event_time": _epoch(r.event_time),
                    "event_id": r.event_id,
                    "action_source": r.action_source or "website",
                    "user_data": _user_data(contacts.get(r.person_id, {}), r.person_id, {
                        "client_ip_address": r.client_ip, "client_user_agent": r.client_user_agent, "fbp": r.fbp, "fbc": r.fbc,
                    }),
                }
                if r.event_source_url:
                    event["event_source_url"] = r.event_source_url
                if r.custom_data:
                    event["custom_data"] = r.custom_data
                queued += insert_action(conn, outbox_key=f"capi:{r.event_id}", channel="meta_capi", status="pending",
                                        person_id=r.person_id, action={"source": "relay", "event_time": r.event_time.isoformat()},
                                        payload=event, qualified_at=r.event_time)
        if len(rows) < 1000:
            break
    queued += _enqueue_server_conversions(run, conn)
    return queued


def _enqueue_server_conversions(run: Run, conn: psycopg.Connection) -> int:
    if not relation_exists(conn, run.schema, "activation_meta_conversion"):
        return 0
    queued = 0
    with conn.transaction():
        query = sql.SQL(
            """select c.event_id, c.person_id, c.event_type, c.meta_event_name, c.occurred_at, c.value_cents, c.currency
               from {} c
               where c.occurred_at > now() - %s
                 and not exists (select 1 from activation.outbox o where o.outbox_key = 'capi:' || c.event_id)"""
        ).format(sql.Identifier(run.schema, "activation_meta_conversion"))
        rows = conn.execute(query, (MAX_AGE,)).fetchall()
        contacts = _emails(conn, run.schema, [r.person_id for r in rows])
        for r in rows:
            event = {
                "event_name": r.meta_event_name,
                "event_time": _epoch(r.occurred_at),
                "event_id": r.event_id,
                "action_source": "system_generated",
                "user_data": _user_data(contacts.get(r.person_id, {}), r.person_id, {}),
            }
            if r.value_cents:
                event["custom_data"] = {"currency": r.currency, "value": round(r.value_cents / 100, 2)}
            queued += insert_action(conn, outbox_key=f"capi:{r.event_id}", channel="meta_capi", status="pending",
                                    person_id=r.person_id, action={"source": "server", "event_type": r.event_type},
                                    payload=event, qualified_at=r.occurred_at)
    return queued


def work(run: Run) -> None:
    dry_run = run.dry_run.get(CHANNEL, False)
    settings = run.settings
    client = None
    if not dry_run:
        client = MetaClient(settings.require("meta_access_token", "sending conversions to Meta"), settings.meta_graph_base,
                            settings.meta_graph_version, backoff_s=settings.provider_backoff_s)
        pixel_id = settings.require("meta_pixel_id", "sending conversions to Meta")
    try:
        with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
            enqueue(run, conn)
            conn.commit()  # the queued rows are visible to the forgotten-person check, which cancels theirs
            cancel_forgotten(run)
            while _send_one_request(run, conn, client, None if dry_run else pixel_id):
                pass
    finally:
        if client:
            client.close()


def _send_one_request(run: Run, conn: psycopg.Connection, client: MetaClient | None, pixel_id: str | None) -> bool:
    with conn.transaction():
        rows = claim_due(conn, ("meta_capi",), EVENTS_LIMIT)
        if not rows:
            return False
        cutoff = datetime.now(timezone.utc) - MAX_AGE
        fresh = []
        for r in rows:
            if r.payload["event_time"] < cutoff.timestamp():
                finish(conn, [r.outbox_id], "expired", error="event_time older than 7 days: Meta refuses the whole request, so it is not sent")
                run.report.add(CHANNEL, "expired")
            else:
                fresh.append(r)
        if not fresh:
            return True
        ids = [r.outbox_id for r in fresh]
        if client is None:
            _preview(run, [r.payload for r in fresh])
            finish(conn, ids, "dry_run")
            run.report.add(CHANNEL, "dry_run", len(ids))
            return True
        try:
            answer = client.send_events(pixel_id, [r.payload for r in fresh], run.settings.meta_test_event_code)
        except ProviderError as exc:
            attempts = max(r.attempts for r in fresh) + 1
            if exc.retryable:
                outcome = retry_later(conn, run.settings, ids, exc, attempts)
                run.report.add(CHANNEL, "dead" if outcome == "dead" else "retry_scheduled", len(ids))
            else:
                finish(conn, ids, "failed", error=str(exc), attempts_add=1)
                run.report.add(CHANNEL, "failed", len(ids))
            return True
        finish(conn, ids, "sent", provider_id=str(answer.get("fbtrace_id") or ""), attempts_add=1)
        run.report.add(CHANNEL, "sent", len(ids))
    run.progress(f"meta capi: sent {run.report.total(CHANNEL, 'sent')}")
    return True


def _preview(run: Run, events: list[dict]) -> None:
    folder = run.settings.data_dir / "outbox-preview"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "meta_capi_events.jsonl", "a") as fh:
        for event in events:
            fh.write(json.dumps(event) + "\n")
