"""Outbound sequences: due steps become outbox rows; replies, bookings and decisions stop them.

Advancing an enrollment and writing its step's outbox row happen in one
transaction keyed by (segment, person, transition, sequence, step), so a crash
never skips or repeats a step. Also works the human-facing actions segments
name: `notify_human` (Slack-compatible webhook + deal assignment) and
`tag_objection` (a tag written to the deal through `activation.deal_annotation`).
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from activation import keys
from activation.http import ProviderError
from activation.outbox import (
    OPEN_STATUSES,
    Run,
    claim_due,
    finish,
    has_open,
    insert_action,
    release_previews,
    retry_later,
)
from activation.sequences import SequenceError, load_sequence
from activation.sources import eligibility, recent_events, relation_exists, segment_definitions
from gdp.settings import MissingSetting

CHANNEL = "outbound_sequences"


def advance(run: Run, conn: psycopg.Connection) -> None:
    definitions = segment_definitions(conn, run.schema) or {}
    conn.commit()
    while True:
        with conn.transaction():
            now = run.clock(conn)
            rows = conn.execute(
                """select e.*, o.status as step_status, o.sent_at as step_sent_at
                   from activation.sequence_enrollment e
                   left join activation.outbox o on o.outbox_key = e.waiting_outbox_key
                   where e.status = 'active' and e.next_step_at <= %s
                     and (e.waiting_outbox_key is null or coalesce(o.status, 'missing') <> all(%s))
                   order by e.next_step_at limit 500 for update of e skip locked""",
                (now, list(OPEN_STATUSES)),
            ).fetchall()
            if not rows:
                return
            elig = eligibility(conn, run.schema, [r.person_id for r in rows])
            for e in rows:
                _advance_one(run, conn, e, elig[e.person_id], definitions, now)


def _advance_one(run: Run, conn: psycopg.Connection, e, elig, definitions: dict, now) -> None:
    """Queue the next due step, but only once the step queued before it was sent (a capped step waits)."""
    def stop(reason: str) -> None:
        conn.execute(
            "update activation.sequence_enrollment set status = 'stopped', stopped_reason = %s, stopped_at = now() where enrollment_id = %s",
            (reason, e.enrollment_id),
        )
        run.report.add(CHANNEL, "stopped")

    try:
        sequence = load_sequence(e.sequence)
    except SequenceError as exc:
        return stop(f"definition error: {exc}")
    if not elig.is_contactable:
        return stop(f"suppressed: {elig.reason}")
    seen = recent_events(conn, run.schema, e.person_id, list(sequence.stop_on), e.enrolled_at)
    if seen:
        return stop(f"stop condition: {', '.join(sorted(seen))}")
    if e.waiting_outbox_key is not None:
        if e.step_status != "sent":
            return stop(f"step {e.next_step - 1} was not sent ({e.step_status or 'missing'}), so the sequence stops there")
        if e.next_step > len(sequence.steps):
            conn.execute("update activation.sequence_enrollment set status = 'completed', waiting_outbox_key = null where enrollment_id = %s",
                         (e.enrollment_id,))
            return None
        # The delay counts from when the previous step really went out, however long it waited.
        due = e.step_sent_at + sequence.steps[e.next_step - 1].delay
        conn.execute("update activation.sequence_enrollment set waiting_outbox_key = null, next_step_at = %s where enrollment_id = %s",
                     (max(due, e.next_step_at), e.enrollment_id))
        if due > now:
            return None
    if e.next_step > len(sequence.steps):
        conn.execute("update activation.sequence_enrollment set status = 'completed' where enrollment_id = %s", (e.enrollment_id,))
        return None
    step = sequence.steps[e.next_step - 1]
    common = dict(segment=e.segment, person_id=e.person_id, transition_id=e.transition_id, step=e.next_step)
    seg = definitions.get(e.segment)
    if step.template:
        key = keys.outbox_key(e.segment or "-", e.person_id, e.transition_id, f"seq_{e.sequence}", e.next_step)
        action = {"template": step.template, "sequence": e.sequence, "funnel": "outbound", "priority": seg.priority if seg else None}
        insert_action(conn, outbox_key=key, channel="email", status="pending", action=action, **common)
    else:
        key = keys.outbox_key(e.segment or "-", e.person_id, e.transition_id, f"seq_{e.sequence}_{step.action}", e.next_step)
        insert_action(conn, outbox_key=key, channel=step.action, status="pending",
                      action={"sequence": e.sequence, "reason": f"{e.sequence} step {e.next_step}"}, **common)
    run.report.add(CHANNEL, "step_due")
    following = sequence.steps[e.next_step].delay if e.next_step < len(sequence.steps) else timedelta(0)
    conn.execute(
        """update activation.sequence_enrollment set next_step = next_step + 1, next_step_at = %s, waiting_outbox_key = %s
           where enrollment_id = %s""",
        (now + following, key, e.enrollment_id),
    )


def _deal(conn: psycopg.Connection, schema: str, person_id: str) -> dict:
    """The person's deal from dbt's `deal`: the most recently updated open one, else the latest closed; ties by deal_id."""
    if not relation_exists(conn, schema, "deal"):
        return {}
    row = conn.execute(
        sql.SQL(
            """select deal_id, email, owner, objection_tags from {} where person_id = %s
               order by is_closed nulls last, updated_at desc nulls last, deal_id
               limit 1"""
        ).format(sql.Identifier(schema, "deal")),
        (person_id,),
    ).fetchone()
    if not row:
        return {}
    return {"deal_id": row[0], "email": row[1], "owner": row[2], "objection_tags": row[3] or []}


def _annotate(conn, row, kind: str, value: str, email: str | None) -> None:
    conn.execute(
        """insert into activation.deal_annotation (outbox_key, person_id, email, kind, value, segment)
           values (%s, %s, %s, %s, %s, %s) on conflict (outbox_key) do nothing""",
        (row.outbox_key, row.person_id, email, kind, value, row.segment),
    )


def human_actions(run: Run, conn: psycopg.Connection, channels: tuple[str, ...] = ("notify_human", "tag_objection")) -> None:
    dry_run = run.dry_run.get("notify_human", False)
    while True:
        with conn.transaction():
            rows = claim_due(conn, channels, 100, now=run.now)
            if not rows:
                return
            elig = eligibility(conn, run.schema, [r.person_id for r in rows])
            for row in rows:
                deal = _deal(conn, run.schema, row.person_id)
                email = elig[row.person_id].email or deal.get("email")
                context = (row.action or {}).get("context") or {}
                if row.channel == "tag_objection":
                    objection = context.get("objection") or ",".join(map(str, deal.get("objection_tags") or [])) or "unspecified"
                    _annotate(conn, row, "objection", str(objection), email)
                    finish(conn, [row.outbox_id], "sent", attempts_add=1)
                    run.report.add("tag_objection", "sent")
                    continue
                owner = deal.get("owner") or run.settings.default_deal_owner
                message = {
                    "text": f":wave: {email or row.person_id} needs a human ({row.segment or 'sequence'}); deal assigned to {owner}.",
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text":
                        f"*{email or row.person_id}* entered *{row.segment}*.\nReason: {(row.action or {}).get('reason') or row.segment}\nOwner: {owner}\nPerson: `{row.person_id}`"}}],
                }
                if dry_run:
                    folder = run.settings.data_dir / "outbox-preview"
                    folder.mkdir(parents=True, exist_ok=True)
                    with open(folder / "notify_human.jsonl", "a") as fh:
                        fh.write(json.dumps(message) + "\n")
                    finish(conn, [row.outbox_id], "dry_run")
                    run.report.add("notify_human", "dry_run")
                    continue
                _annotate(conn, row, "assigned", str(owner), email)
                try:
                    response = httpx.post(run.settings.notify_webhook_url, json=message, timeout=10)
                    if response.status_code >= 300:
                        raise ProviderError("notify", response.status_code, "http_error", response.text[:200],
                                            response.status_code == 429 or response.status_code >= 500)
                except httpx.HTTPError as exc:
                    err = ProviderError("notify", None, type(exc).__name__, str(exc), True)
                    retry_later(conn, run.settings, [row.outbox_id], err, row.attempts + 1)
                    continue
                except ProviderError as exc:
                    if exc.retryable:
                        retry_later(conn, run.settings, [row.outbox_id], exc, row.attempts + 1)
                    else:
                        finish(conn, [row.outbox_id], "failed", error=str(exc), attempts_add=1)
                    continue
                finish(conn, [row.outbox_id], "sent", attempts_add=1)
                run.report.add("notify_human", "sent")


def work(run: Run) -> None:
    with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        advance(run, conn)
        if run.dry_run.get("notify_human", False) or run.settings.notify_webhook_url:
            with conn.transaction():
                if not run.dry_run.get("notify_human", False):
                    release_previews(conn, ("notify_human",))
            return human_actions(run, conn)
        human_actions(run, conn, ("tag_objection",))  # needs no provider
        with conn.transaction():
            waiting = has_open(conn, ("notify_human",))
        if waiting:
            raise MissingSetting("GDP_NOTIFY_WEBHOOK_URL", f"{waiting} route-to-a-human notification(s) wait to be posted "
                                 "(preview them with gdp activate --dry-run)")
