"""Resend emails from the outbox: prepare (check, cap, render, store), batch, send.

Preparing stores the exact request body in the row before any call; batching
stores which rows travel together (and under which Idempotency-Key) before any
call. After that nothing about a request can change, so a crashed or retried
send repeats the identical request and Resend's idempotency makes it one email.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb

from activation import keys
from activation.http import ProviderError
from activation.outbox import Run, claim_due, finish, has_open, release_previews, retry_later
from activation.render import TemplateError, default_minter, load_template, render
from activation.resend import BATCH_LIMIT, ResendClient
from activation.sources import eligibility, profiles
from gdp.settings import MissingSetting, Settings

CHANNEL = "resend_emails"
_CAP_LOCK = 7_412_100
PREPARE_CHUNK = 200


def preview_dir(run: Run) -> Path:
    return preview_index(run.settings).parent


def preview_index(settings: Settings) -> Path:
    """The page a report links to: every dry-run email of this data dir, each a real HTML file."""
    return settings.data_dir / "outbox-preview" / "index.html"


def _write_preview(run: Run, outbox_key: str, payload: dict) -> None:
    """Each email as the recipient's client would get it (the headers in a comment after the doctype)."""
    folder = preview_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    name = keys.tag_value(outbox_key)[:120] + "_" + keys.batch_key([outbox_key])[-8:]
    head = "\n".join(
        f"{k}: {v}" for k, v in [("From", payload["from"]), ("To", ", ".join(payload["to"])), ("Subject", payload["subject"]),
                                  *payload["headers"].items(), ("Tags", json.dumps(payload["tags"]))]
    )
    comment = "<!--\n" + head.replace("--", "- -") + "\n-->"
    page = payload["html"]
    if page[:9].lower() == "<!doctype":  # a comment before the doctype would put browsers in quirks mode
        doctype, _, rest = page.partition(">")
        page = f"{doctype}>\n{comment}\n{rest}"
    else:
        page = f"{comment}\n{page}"
    (folder / f"{name}.html").write_text(page + "\n")
    (folder / f"{name}.txt").write_text(f"{head}\n\n{payload['text']}")


_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def write_preview_index(run: Run) -> Path | None:
    """One page linking every preview with its subject, so a report or a person opens one file, not a folder."""
    folder = preview_dir(run)
    pages = sorted(p for p in folder.glob("*.html") if p.name != "index.html") if folder.is_dir() else []
    if not pages:
        return None
    rows = []
    for page in pages:
        found = _TITLE.search(page.read_text(errors="replace")[:20_000])
        subject = found.group(1) if found else ""  # already escaped when the email was rendered
        rows.append(f'<li><a href="{html.escape(page.name, quote=True)}">{subject or html.escape(page.name)}</a>'
                    f' <small>{html.escape(page.stem)}</small></li>')
    index = preview_index(run.settings)
    index.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">'
        f"<title>Dry-run emails ({len(pages)})</title></head><body style=\"font-family:system-ui,sans-serif;max-width:60em;margin:2em auto\">"
        f"<h1>Dry-run emails ({len(pages)})</h1><p>Rendered, not sent: no RESEND_API_KEY or --dry-run.</p><ol>"
        + "\n".join(rows) + "</ol></body></html>\n"
    )
    return index


def build_payload(run: Run, row, person: dict, features: dict, email: str, minter) -> dict:
    action = row.action or {}
    funnel = action.get("funnel") or ("outbound" if action.get("sequence") else "newsletter")
    template = load_template(action.get("template") or "")
    context = dict((row.action or {}).get("context") or {})
    rendered = render(template, settings=run.settings, person=person, features=features, context=context,
                      funnel=funnel, outbox_key=row.outbox_key, minter=minter)
    tags = {"person_id": row.person_id, "campaign_id": rendered.campaign_id, "funnel": funnel}
    if row.segment:
        tags["segment"] = row.segment
    return {
        "from": run.settings.email_from,
        "to": [email],
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
        "headers": {
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # Also keeps Gmail from threading separate campaign emails together.
            "X-Entity-Ref-ID": row.outbox_key,
        },
        "tags": [{"name": name, "value": keys.tag_value(value)} for name, value in tags.items()],
    }


_RECORD_SEND = """
    insert into activation.email_send (outbox_key, person_id, email, campaign_id, funnel, segment, template,
                                       subject, resend_email_id, status, error, qualified_at, tags)
    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    on conflict (outbox_key) do update set status = excluded.status, resend_email_id = excluded.resend_email_id,
        error = excluded.error, sent_at = now()
"""


def _send_params(row, payload: dict, status: str, resend_id: str | None, error: str | None = None) -> tuple:
    tags = {t["name"]: t["value"] for t in payload["tags"]}
    return (row.outbox_key, row.person_id, payload["to"][0], tags.get("campaign_id", ""), tags.get("funnel", ""), row.segment,
            (row.action or {}).get("template") or "", payload["subject"], resend_id, status, error, row.qualified_at, Jsonb(tags))


def _record_send(conn: psycopg.Connection, row, payload: dict, status: str, resend_id: str | None, error: str | None = None) -> None:
    conn.execute(_RECORD_SEND, _send_params(row, payload, status, resend_id, error))


_CLAIM_PERSONS = """
    with persons as (
        select distinct person_id from activation.outbox
        where channel = 'email' and status in ('pending', 'deferred') and payload is null
          and next_attempt_at <= %(now)s
        limit %(limit)s
    )
    select o.* from activation.outbox o join persons using (person_id)
    where o.channel = 'email' and o.status in ('pending', 'deferred') and o.payload is null and o.next_attempt_at <= %(now)s
    order by o.person_id, coalesce((o.action ->> 'priority')::int, %(default_priority)s), o.qualified_at, o.outbox_id
    for update of o skip locked
"""
DEFAULT_PRIORITY = 100  # a segment without meta.priority (models/segments/_segments.yml)
DAY, WEEK = timedelta(days=1), timedelta(days=7)


def next_window(times: list[datetime], now: datetime, cap_day: int, cap_week: int) -> datetime | None:
    """When one more email fits under both caps, given the prepare times of the last 7 days; None = now.

    The caps are rolling: the day cap frees a slot when the oldest email that fills it is
    a day old (likewise the week cap), so the next window starts at the later of the two.
    """
    if cap_day <= 0 or cap_week <= 0:
        return datetime.max.replace(tzinfo=timezone.utc)
    today = [t for t in times if t > now - DAY]
    week = [t for t in times if t > now - WEEK]
    waits = []
    if len(today) >= cap_day:
        waits.append(today[len(today) - cap_day] + DAY)
    if len(week) >= cap_week:
        waits.append(week[len(week) - cap_week] + WEEK)
    return max(waits) if waits else None


def prepare(run: Run, dry_run: bool) -> None:
    """Check eligibility and caps, render and store the request body of every unprepared email.

    A person's due emails are taken together, most important segment first (lower
    `priority` number), so when the caps let only some through, priority decides. One that
    does not fit waits for the next window (`deferred`) until its template's
    `expires_after` has passed since the person qualified; then it is `expired`.
    """
    settings = run.settings
    minter = default_minter(settings)
    with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        while True:
            with conn.transaction():
                now = run.clock(conn)
                rows = conn.execute(_CLAIM_PERSONS, {"now": now, "limit": PREPARE_CHUNK,
                                                     "default_priority": DEFAULT_PRIORITY}).fetchall()
                if not rows:
                    return
                persons = sorted({r.person_id for r in rows})
                for person_id in persons:  # sorted, so two workers take per-person cap locks in one order
                    conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_CAP_LOCK, person_id))
                elig = eligibility(conn, run.schema, persons)
                profs = profiles(conn, run.schema, persons)
                recent = dict(conn.execute(
                    """select person_id, array_agg(prepared_at order by prepared_at)
                       from activation.outbox
                       where channel = 'email' and person_id = any(%s) and prepared_at > %s and prepared_at <= %s
                         and status in ('pending', 'sent', 'dry_run')
                       group by person_id""",
                    (persons, now - WEEK, now),
                ).fetchall())
                for row in rows:
                    e = elig[row.person_id]
                    if not e.is_contactable:
                        finish(conn, [row.outbox_id], "skipped_suppressed", error=e.reason or "not contactable")
                        run.report.add(CHANNEL, "skipped_suppressed")
                        continue
                    try:
                        template = load_template((row.action or {}).get("template") or "")
                    except TemplateError as exc:
                        finish(conn, [row.outbox_id], "failed", error=str(exc))
                        run.report.add(CHANNEL, "failed")
                        continue
                    if row.status == "deferred" and row.expires_at is not None and now > row.expires_at:
                        finish(conn, [row.outbox_id], "expired", error=f"{row.error}; not sent before it expired at {row.expires_at:%Y-%m-%d %H:%M} UTC")
                        run.report.add(CHANNEL, "expired")
                        continue
                    # dbt's caps (vars on contact_eligibility) win; the settings cover a model without them.
                    cap_day = e.cap_per_day if e.cap_per_day is not None else settings.email_cap_per_day
                    cap_week = e.cap_per_week if e.cap_per_week is not None else settings.email_cap_per_week
                    times = recent.setdefault(row.person_id, [])
                    window = next_window(times, now, cap_day, cap_week)
                    if window is not None:
                        _defer(run, conn, row, template, window, now, times, cap_day, cap_week)
                        continue
                    person, features = profs[row.person_id]
                    person = person | {"email": e.email}
                    try:
                        payload = build_payload(run, row, person, features, e.email, minter)
                    except TemplateError as exc:
                        finish(conn, [row.outbox_id], "failed", error=str(exc))
                        run.report.add(CHANNEL, "failed")
                        continue
                    times.append(now)
                    conn.execute(
                        """update activation.outbox set status = 'pending', payload = %s, prepared_at = %s, updated_at = now()
                           where outbox_id = %s""",
                        (Jsonb(payload), now, row.outbox_id),
                    )
                    if dry_run:
                        _write_preview(run, row.outbox_key, payload)
                        _record_send(conn, row, payload, "dry_run", None)
                        finish(conn, [row.outbox_id], "dry_run")
                        run.report.add(CHANNEL, "dry_run")
            run.progress(f"emails: prepared {len(rows)}")


def _defer(run: Run, conn: psycopg.Connection, row, template, window: datetime, now: datetime, times: list[datetime],
           cap_day: int, cap_week: int) -> None:
    """Wait for the next window under the caps, or expire when that is past the template's shelf life."""
    qualified = row.qualified_at or row.created_at
    expires = qualified + template.expires_after
    reached = (f"frequency cap reached ({sum(t > now - DAY for t in times)} today, {len(times)} this week; "
               f"caps {cap_day}/day, {cap_week}/week)")
    if window > expires:
        finish(conn, [row.outbox_id], "expired",
               error=f"{reached}; the next window is after it expires ({template.name} expires {template.expires_after} after qualifying)")
        run.report.add(CHANNEL, "expired")
        return
    conn.execute(
        """update activation.outbox set status = 'deferred', next_attempt_at = %s, expires_at = %s, error = %s, updated_at = now()
           where outbox_id = %s""",
        (window, expires, f"{reached}; waits for the next window", row.outbox_id),
    )
    run.report.add(CHANNEL, "deferred")


def assign_group(run: Run, conn: psycopg.Connection) -> bool:
    """Group the next prepared emails and persist the grouping (and its key) before any call.

    One group at a time, so concurrent workers each take their own group and a
    restarted worker first finishes the groups a crash left behind.
    """
    size = max(1, min(run.settings.resend_batch_size, BATCH_LIMIT))
    with conn.transaction():
        rows = claim_due(conn, ("email",), size, also="and payload is not null and batch_key is null", now=run.now)
        if not rows:
            return False
        elig = eligibility(conn, run.schema, [r.person_id for r in rows])
        ready = []
        for r in rows:  # an opt-out since preparing still wins: nothing has been sent yet
            if elig[r.person_id].is_contactable:
                ready.append(r)
            else:
                finish(conn, [r.outbox_id], "skipped_suppressed", error=elig[r.person_id].reason or "not contactable")
                run.report.add(CHANNEL, "skipped_suppressed")
        if len(ready) == 1 or size == 1:
            conn.execute(
                "update activation.outbox set batch_key = outbox_key, send_single = true where outbox_id = any(%s)",
                ([r.outbox_id for r in ready],),
            )
        elif ready:
            conn.execute(
                "update activation.outbox set batch_key = %s where outbox_id = any(%s)",
                (keys.batch_key([r.outbox_key for r in ready]), [r.outbox_id for r in ready]),
            )
    return True


def send_group(run: Run, conn: psycopg.Connection, client: ResendClient, batch_key: str) -> bool:
    """Send one persisted group; False when another worker holds it or it is not due."""
    with conn.transaction():
        rows = conn.execute(
            """select * from activation.outbox
               where batch_key = %s and status = 'pending' and next_attempt_at <= coalesce(%s, now())
               order by outbox_id for update skip locked""",
            (batch_key, run.now),
        ).fetchall()
        members = conn.execute(
            "select count(*) from activation.outbox where batch_key = %s and status = 'pending'", (batch_key,)
        ).fetchone()[0]
        if not rows or len(rows) != members:
            return False
        ids = [r.outbox_id for r in rows]
        single = len(rows) == 1 and rows[0].send_single
        try:
            if single:
                provider_ids = [client.send(rows[0].payload, rows[0].outbox_key)]
            else:
                provider_ids = client.send_batch([r.payload for r in rows], batch_key)
        except ProviderError as exc:
            attempts = max(r.attempts for r in rows) + 1
            if exc.retryable:
                outcome = retry_later(conn, run.settings, ids, exc, attempts)
                run.report.add(CHANNEL, "dead" if outcome == "dead" else "retry_scheduled", len(ids))
            elif not single:
                # Resend refused the whole batch without sending any of it: send each alone, so
                # only the bad email fails and its reason is its own.
                conn.execute(
                    """update activation.outbox set batch_key = outbox_key, send_single = true, error = %s, updated_at = now()
                       where outbox_id = any(%s)""",
                    (f"batch refused, sending singly: {exc}", ids),
                )
                run.report.add(CHANNEL, "batch_split", len(ids))
            else:
                finish(conn, ids, "failed", error=str(exc), attempts_add=1)
                _record_send(conn, rows[0], rows[0].payload, "failed", None, str(exc))
                run.report.add(CHANNEL, "failed")
            return True
        with conn.cursor() as cur:
            cur.executemany(
                """update activation.outbox set status = 'sent', provider_id = %s, attempts = attempts + 1,
                       updated_at = now(), sent_at = coalesce(%s, now()) where outbox_id = %s""",
                [(provider_id, run.now, row.outbox_id) for row, provider_id in zip(rows, provider_ids)],
            )
            cur.executemany(_RECORD_SEND, [_send_params(row, row.payload, "sent", pid) for row, pid in zip(rows, provider_ids)])
        run.report.add(CHANNEL, "sent", len(rows))
    run.progress(f"emails: sent {run.report.total(CHANNEL, 'sent')}")
    return True


def work(run: Run) -> None:
    dry_run = run.dry_run.get(CHANNEL, False)
    settings = run.settings
    if not dry_run:
        with psycopg.connect(run.url, autocommit=True) as conn:
            waiting = has_open(conn, ("email",))
            if waiting and not settings.resend_api_key:
                raise MissingSetting("RESEND_API_KEY", f"{waiting} email(s) wait to be sent through Resend "
                                     "(preview them with gdp activate --dry-run)")
            release_previews(conn, ("email",), rerender=True)
    prepare(run, dry_run)
    if dry_run:
        write_preview_index(run)
        return
    if not settings.resend_api_key:
        return
    client = ResendClient(
        settings.resend_api_key,
        settings.resend_api_base,
        requests_per_second=settings.resend_requests_per_second,
        backoff_s=settings.provider_backoff_s,
    )
    with client, psycopg.connect(run.url, row_factory=namedtuple_row, autocommit=False) as conn:
        while True:
            assign_group(run, conn)
            with conn.transaction():
                due = [r[0] for r in conn.execute(
                    """select batch_key from activation.outbox
                       where channel = 'email' and status = 'pending' and batch_key is not null
                         and next_attempt_at <= coalesce(%s, now())
                       group by batch_key order by min(outbox_id) limit 100""",
                    (run.now,),
                ).fetchall()]
            if not due:
                return
            if not any([send_group(run, conn, client, key) for key in due]):
                return
