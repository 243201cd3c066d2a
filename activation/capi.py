"""Conversions API delivery: relayed browser events and server-side conversions.

Sources: `raw.meta_capi_event` (landed by /api/meta/capi with the Pixel's event_id,
so Meta deduplicates browser and server) and server-side conversions defined in
dbt's `activation_meta_conversion` (which events, as which Meta event, with which
value, under which event id). Each becomes an outbox row keyed `capi:<event_id>`, so
one conversion is one row whichever side arrives first: a Stripe checkout carries
the id the page minted (Checkout metadata.gdp_event_id), and when the browser
already relayed that Purchase the server adds nothing; when the relay never came
(blocked, page closed) the server sends it under the Pixel's id and name, and Meta
deduplicates it against the Pixel. Every event carries each match key dbt's
`activation_meta_user` knows (hashed per Meta's rules; fbp, fbc, IP and user agent
as they are); a relayed event's own browser signals win over the person's. Meta
refuses a whole request if one event is older than 7 days, so such events are
expired with that reason before the call.
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
from activation.outbox import (
    Run,
    call_failed,
    cancel_forgotten,
    claim_due,
    finish,
    has_open,
    insert_action,
    release_previews,
)
from activation.sources import relation_exists
from gdp.settings import MissingSetting

CHANNEL = "meta_capi_events"
MAX_AGE = timedelta(days=7)


MATCH_COLUMNS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id",
                 "fbp", "fbc", "client_ip_address", "client_user_agent")


def match_keys(conn: psycopg.Connection, schema: str, person_ids: list[str]) -> dict[str, dict]:
    """Meta's customer information per person, unhashed, from dbt's activation_meta_user."""
    ids = sorted({p for p in person_ids if p})
    if not ids or not relation_exists(conn, schema, "activation_meta_user"):
        return {}
    query = sql.SQL("select person_id, {} from {} where person_id = any(%s)").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in MATCH_COLUMNS), sql.Identifier(schema, "activation_meta_user")
    )
    return {r[0]: dict(zip(MATCH_COLUMNS, r[1:])) for r in conn.execute(query, (ids,)).fetchall()}


def _user_data(contact: dict, person_id: str | None, extra: dict) -> dict:
    raw = {**contact, "external_id": person_id}
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
            contacts = match_keys(conn, run.schema, [r.person_id for r in rows])
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
            """select c.meta_event_id, c.person_id, c.event_type, c.meta_event_name, c.occurred_at, c.value_cents, c.currency
               from {} c
               where c.occurred_at > now() - %s
                 and not exists (select 1 from activation.outbox o where o.outbox_key = 'capi:' || c.meta_event_id)"""
        ).format(sql.Identifier(run.schema, "activation_meta_conversion"))
        rows = conn.execute(query, (MAX_AGE,)).fetchall()
        contacts = match_keys(conn, run.schema, [r.person_id for r in rows])
        for r in rows:
            event = {
                "event_name": r.meta_event_name,
                "event_time": _epoch(r.occurred_at),
                "event_id": r.meta_event_id,
                "action_source": "system_generated",
                "user_data": _user_data(contacts.get(r.person_id, {}), r.person_id, {}),
            }
            if r.value_cents:
                event["custom_data"] = {"currency": r.currency, "value": round(r.value_cents / 100, 2)}
            queued += insert_action(conn, outbox_key=f"capi:{r.meta_event_id}", channel="meta_capi", status="pending",
                                    person_id=r.person_id, action={"source": "server", "event_type": r.event_type},
                                    payload=event, qualified_at=r.occurred_at)
    return queued


def work(run: Run) -> None:
    dry_run = run.dry_run.get(CHANNEL, False)
    settings = run.settings
    with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        enqueue(run, conn)
        conn.commit()  # the queued rows are visible to the forgotten-person check, which cancels theirs
        cancel_forgotten(run)
        client = pixel_id = None
        if not dry_run:
            with conn.transaction():
                waiting = has_open(conn, ("meta_capi",))
                missing = [name for name, value in (("META_ACCESS_TOKEN", settings.meta_access_token),
                                                    ("META_PIXEL_ID", settings.meta_pixel_id)) if not value]
                if waiting and missing:
                    raise MissingSetting(missing[0], f"{waiting} conversion event(s) wait to be sent to Meta, which needs "
                                         "META_ACCESS_TOKEN and META_PIXEL_ID (preview them with gdp activate --dry-run)")
                release_previews(conn, ("meta_capi",))
            if missing:
                return
            client = MetaClient(settings.meta_access_token, settings.meta_graph_base, settings.meta_graph_version,
                                backoff_s=settings.provider_backoff_s)
            pixel_id = settings.meta_pixel_id
        try:
            while _send_one_request(run, conn, client, pixel_id):
                pass
        finally:
            if client:
                client.close()


def _send_one_request(run: Run, conn: psycopg.Connection, client: MetaClient | None, pixel_id: str | None) -> bool:
    with conn.transaction():
        rows = claim_due(conn, ("meta_capi",), EVENTS_LIMIT, now=run.now)
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
            call_failed(run, conn, CHANNEL, fresh, exc)
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
