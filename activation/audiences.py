"""Meta Custom Audiences: add persons on segment entry, remove them on exit.

Rows go up as hashed EMAIL / PHONE / EXTERN_ID (empty string where unknown), at
most 10,000 per call. `activation.audience_member` remembers whom this system
added, and only those are ever removed: an audience can also hold people a
marketer uploaded by hand, and a segment exit must not delete them.
"""

from __future__ import annotations

import json
from collections import defaultdict

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb

from activation.capi import match_keys
from activation.http import ProviderError
from activation.meta import AUDIENCE_LIMIT, MetaClient
from activation.meta_hashing import hash_value
from activation.outbox import Run, call_failed, claim_due, finish, has_open, release_previews
from gdp.settings import MissingSetting

CHANNEL = "meta_audiences"


def audience_ids(setting: str | None) -> dict[str, str]:
    """`META_AUDIENCE_IDS="high_intent_pricing=2384...,no_show=2385..."` → {name: id}."""
    result = {}
    for part in (setting or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() and value.strip():
            result[name.strip()] = value.strip()
    return result


def hashed_row(contact: dict, person_id: str) -> list[str]:
    country = contact.get("country")
    return [hash_value("em", contact.get("em")) or "", hash_value("ph", contact.get("ph"), country=country) or "",
            hash_value("external_id", person_id) or ""]


def work(run: Run) -> None:
    dry_run = run.dry_run.get(CHANNEL, False)
    settings = run.settings
    ids = audience_ids(settings.meta_audience_ids)
    with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        client = None
        if not dry_run:
            with conn.transaction():
                waiting = has_open(conn, ("meta_audience",))
                if waiting and not settings.meta_access_token:
                    raise MissingSetting("META_ACCESS_TOKEN", f"{waiting} Custom Audience change(s) wait to be synced to Meta "
                                         "(preview them with gdp activate --dry-run)")
                release_previews(conn, ("meta_audience",))
            if not settings.meta_access_token:
                return
            client = MetaClient(settings.meta_access_token, settings.meta_graph_base, settings.meta_graph_version,
                                backoff_s=settings.provider_backoff_s)
        try:
            while _one_pass(run, conn, client, ids):
                pass
        finally:
            if client:
                client.close()


def _one_pass(run: Run, conn: psycopg.Connection, client: MetaClient | None, ids: dict[str, str]) -> bool:
    with conn.transaction():
        rows = claim_due(conn, ("meta_audience",), AUDIENCE_LIMIT, now=run.now)
        if not rows:
            return False
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for r in rows:
            groups[(r.action.get("audience") or "", r.action.get("op") or "add")].append(r)
        contacts = match_keys(conn, run.schema, [r.person_id for r in rows])
        for (audience, op), members in groups.items():
            _sync_group(run, conn, client, ids, audience, op, members, contacts)
    return True


def _sync_group(run, conn, client, ids, audience, op, members, contacts) -> None:
    if op == "remove":
        added = {r[0] for r in conn.execute(
            "select person_id from activation.audience_member where audience = %s and person_id = any(%s) and removed_at is null",
            (audience, [m.person_id for m in members]),
        ).fetchall()}
        strangers = [m for m in members if m.person_id not in added]
        if strangers:
            finish(conn, [m.outbox_id for m in strangers], "skipped", error="not added by this system, so never removed")
            run.report.add(CHANNEL, "skipped", len(strangers))
        members = [m for m in members if m.person_id in added]
        if not members:
            return
    rows = [hashed_row(contacts.get(m.person_id, {}), m.person_id) for m in members]
    outbox_ids = [m.outbox_id for m in members]
    for m, row in zip(members, rows):
        conn.execute("update activation.outbox set payload = %s where outbox_id = %s", (Jsonb({"schema": ["EMAIL", "PHONE", "EXTERN_ID"], "data": [row]}), m.outbox_id))
    if client is None:
        folder = run.settings.data_dir / "outbox-preview"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "meta_audiences.jsonl", "a") as fh:
            fh.write(json.dumps({"audience": audience, "op": op, "data": rows}) + "\n")
        finish(conn, outbox_ids, "dry_run")
        run.report.add(CHANNEL, "dry_run", len(members))
        return
    audience_id = ids.get(audience)
    if not audience_id:
        finish(conn, outbox_ids, "failed", error=f"no Meta audience id for {audience!r}: add {audience}=<id> to META_AUDIENCE_IDS")
        run.report.add(CHANNEL, "failed", len(members))
        return
    try:
        client.audience_users(audience_id, rows, remove=(op == "remove"))
    except ProviderError as exc:
        call_failed(run, conn, CHANNEL, members, exc)
        return
    for m in members:
        if op == "add":
            conn.execute(
                """insert into activation.audience_member (audience, person_id, meta_audience_id, added_outbox_key)
                   values (%s, %s, %s, %s)
                   on conflict (audience, person_id) do update
                   set added_at = now(), added_outbox_key = excluded.added_outbox_key, meta_audience_id = excluded.meta_audience_id,
                       removed_at = null, removed_outbox_key = null""",
                (audience, m.person_id, audience_id, m.outbox_key),
            )
        else:
            conn.execute(
                "update activation.audience_member set removed_at = now(), removed_outbox_key = %s where audience = %s and person_id = %s",
                (m.outbox_key, audience, m.person_id),
            )
    finish(conn, outbox_ids, "sent", attempts_add=1)
    run.report.add(CHANNEL, "sent", len(members))
