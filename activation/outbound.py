"""Outbound sequences: due steps become outbox rows; replies, bookings and decisions stop them.

Advancing an enrollment and writing its step's outbox row happen in one
transaction keyed by (segment, person, transition, sequence, step), so a crash
never skips or repeats a step. Also works the human-facing actions segments
name: `notify_human` (Slack-compatible webhook + deal assignment) and
`tag_objection` (a tag written to the deal through `activation.deal_annotation`).
"""

from __future__ import annotations

import json

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from activation import keys
from activation.http import ProviderError
from activation.outbox import Run, claim_due, finish, insert_action, retry_later
from activation.sequences import SequenceError, load_sequence
from activation.sources import eligibility, recent_events, relation_exists

CHANNEL = "outbound_sequences"


def advance(run: Run, conn: psycopg.Connection) -> None:
    while True:
        with conn.transaction():
            rows = conn.execute(
                """select * from activation.sequence_enrollment where status = 'active' and next_step_at <= now()
                   order by next_step_at limit 500 for update skip locked"""
            ).fetchall()
            if not rows:
                return
            elig = eligibility(conn, run.schema, [r.person_id for r in rows])
            for e in rows:
                _advance_one(run, conn, e, elig[e.person_id])


def _advance_one(run: Run, conn: psycopg.Connection, e, elig) -> None:
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
    if e.next_step > len(sequence.steps):
        conn.execute("update activation.sequence_enrollment set status = 'completed' where enrollment_id = %s", (e.enrollment_id,))
        return None
    step = sequence.steps[e.next_step - 1]
    common = dict(segment=e.segment, person_id=e.person_id, transition_id=e.transition_id, step=e.next_step)
    if step.template:
        insert_action(conn, outbox_key=keys.outbox_key(e.segment or "-", e.person_id, e.transition_id, f"seq_{e.sequence}", e.next_step),
                      channel="email", status="pending", action={"template": step.template, "sequence": e.sequence, "funnel": "outbound"}, **common)
    else:
        insert_action(conn, outbox_key=keys.outbox_key(e.segment or "-", e.person_id, e.transition_id, f"seq_{e.sequence}_{step.action}", e.next_step),
                      channel=step.action, status="pending", action={"sequence": e.sequence, "reason": f"{e.sequence} step {e.next_step}"}, **common)
    run.report.add(CHANNEL, "step_due")
    if e.next_step >= len(sequence.steps):
        conn.execute("update activation.sequence_enrollment set status = 'completed', next_step = next_step + 1 where enrollment_id = %s", (e.enrollment_id,))
    else:
        conn.execute(
            "update activation.sequence_enrollment set next_step = next_step + 1, next_step_at = now() + %s where enrollment_id = %s",
            (sequence.steps[e.next_step].delay, e.enrollment_id),
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


def human_actions(run: Run, conn: psycopg.Connection) -> None:
    dry_run = run.dry_run.get("notify_human", False)
    while True:
        with conn.transaction():
            rows = claim_due(conn, ("notify_human", "tag_objection"), 100)
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
                _annotate(conn, row, "assigned", str(owner), email)
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
        human_actions(run, conn)
