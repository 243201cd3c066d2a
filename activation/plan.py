"""Ledger transitions → outbox rows (and sequence enrollments), exactly once.

A transition is marked processed in the same transaction that writes its
actions, so a crash either leaves both or neither. Held transitions (the
blast-radius guard) get `held` rows and stay unprocessed until approved, when
those rows turn into their real status.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg.rows import namedtuple_row

from activation import keys
from activation.outbox import Run, insert_action
from activation.sequences import SequenceError, load_sequence
from activation.sources import Eligibility, SegmentDef, eligibility, holdouts, relation_exists, segment_definitions

CHUNK = 1000


def stop_enrollments(conn: psycopg.Connection, person_id: str, reason: str) -> int:
    cur = conn.execute(
        """update activation.sequence_enrollment
           set status = 'stopped', stopped_reason = %s, stopped_at = now()
           where person_id = %s and status = 'active'""",
        (reason, person_id),
    )
    return cur.rowcount


def move_enrollments(conn: psycopg.Connection, old_id: str, survivor_id: str) -> None:
    """A merge moves running sequences to the surviving person, unless she already runs the same one."""
    conn.execute(
        """update activation.sequence_enrollment e set person_id = %s
           where e.person_id = %s and e.status = 'active'
             and not exists (select 1 from activation.sequence_enrollment s
                             where s.person_id = %s and s.sequence = e.sequence and s.status = 'active')""",
        (survivor_id, old_id, survivor_id),
    )
    stop_enrollments(conn, old_id, f"merged_into:{survivor_id}")


def suppress_pending_email(conn: psycopg.Connection, person_id: str, reason: str) -> int:
    cur = conn.execute(
        """update activation.outbox set status = 'skipped_suppressed', error = %s, updated_at = now()
           where person_id = %s and channel = 'email' and status = 'pending' and batch_key is null""",
        (reason, person_id),
    )
    return cur.rowcount


def enroll(conn: psycopg.Connection, sequence: str, t, first_delay: timedelta) -> int | None:
    row = conn.execute(
        """insert into activation.sequence_enrollment (sequence, person_id, segment, transition_id, next_step_at)
           values (%s, %s, %s, %s, now() + %s)
           on conflict do nothing
           returning enrollment_id""",
        (sequence, t.person_id, t.segment, t.transition_id, first_delay),
    ).fetchone()
    return row[0] if row else None


def _plan_one(conn: psycopg.Connection, run: Run, t, seg: SegmentDef, elig: Eligibility, survivor: Eligibility | None = None,
              holdout: bool = False) -> int:
    """One transition's actions; who may be emailed, targeted or held out is dbt's (activation_recipient, activation_holdout)."""
    held = t.is_held and t.approved_at is None
    entered = t.transition == "entered"
    common = dict(
        segment=t.segment, person_id=t.person_id, transition_id=t.transition_id, transition=t.transition,
        qualified_at=t.qualified_at, cycle_id=t.cycle_id,
    )
    planned = 0

    def contact_status(opted_out_only: bool = False) -> tuple[str, str | None]:
        if held:
            return "held", "transition held by the blast-radius guard; approve with gdp segments approve"
        if holdout:
            return "holdout", f"held out ({seg.holdout_share:.0%} of {t.segment}) to measure lift"
        if opted_out_only and not elig.is_ad_targetable:
            return "skipped_suppressed", elig.ad_reason or "not targetable"
        if not opted_out_only and not elig.is_contactable:
            return "skipped_suppressed", elig.reason or "not contactable"
        return "pending", None

    for act in seg.activations:
        channel = act.get("channel")
        key = lambda ch, step=0: keys.outbox_key(t.segment, t.person_id, t.transition_id, ch, step)  # noqa: E731
        if channel == "email" and entered:
            status, error = contact_status()
            action = {"template": act.get("template"), "funnel": seg.funnel}
            planned += insert_action(conn, outbox_key=key("email"), channel="email", status=status, error=error, action=action, **common)
        elif channel == "meta_audience":
            op = "add" if entered else "remove"
            status, error = contact_status(opted_out_only=True) if entered else (("held", "transition held") if held else ("pending", None))
            action = {"audience": act.get("audience"), "op": op}
            planned += insert_action(conn, outbox_key=key(f"meta_audience_{op}"), channel="meta_audience", status=status, error=error, action=action, **common)
            if t.transition == "merged" and t.merged_into_person_id and survivor is not None:
                # The old id leaves the audience (if this system added it); the survivor takes its place.
                blocked = not survivor.is_ad_targetable
                planned += insert_action(
                    conn, outbox_key=keys.outbox_key(t.segment, t.merged_into_person_id, t.transition_id, "meta_audience_add", 0),
                    channel="meta_audience", status="held" if held else "skipped_suppressed" if blocked else "pending",
                    error=(survivor.ad_reason or "not targetable") if blocked else None, action={"audience": act.get("audience"), "op": "add"},
                    **(common | {"person_id": t.merged_into_person_id}),
                )
        elif channel == "outbound" and entered:
            sequence = act.get("sequence")
            status, error = contact_status()
            provider_id = None
            if status == "pending":
                try:
                    definition = load_sequence(sequence)
                except SequenceError as exc:
                    status, error = "failed", str(exc)
                else:
                    enrollment = enroll(conn, sequence, t, definition.steps[0].delay)
                    status = "sent" if enrollment else "skipped"
                    error = None if enrollment else f"already active in sequence {sequence}"
                    provider_id = str(enrollment) if enrollment else None
            planned += insert_action(
                conn, outbox_key=key(f"outbound_{sequence}"), channel="outbound", status=status, error=error,
                action={"sequence": sequence}, provider_id=provider_id, **common,
            )
        elif channel in ("notify_human", "tag_objection") and entered:
            status = "held" if held else "pending"
            action = {k: v for k, v in act.items() if k != "channel"} | {"context": t.context or {}}
            planned += insert_action(conn, outbox_key=key(channel), channel=channel, status=status, action=action, **common)
        elif channel == "stop_sequences" and entered and not held:
            stop_enrollments(conn, t.person_id, f"stop_sequences:{t.segment}")
        elif channel == "suppress" and entered and not held:
            stop_enrollments(conn, t.person_id, f"suppressed:{t.segment}")
            suppress_pending_email(conn, t.person_id, f"suppressed by segment {t.segment}")
        elif channel not in ("email", "meta_audience", "outbound", "notify_human", "tag_objection", "stop_sequences", "suppress"):
            run.report.note(f"segment {t.segment}: unknown activation channel {channel!r} ignored")
    if t.transition == "merged" and not held and t.merged_into_person_id:
        move_enrollments(conn, t.person_id, t.merged_into_person_id)
    if not held:
        conn.execute("insert into activation.transition_processed (transition_id) values (%s) on conflict do nothing", (t.transition_id,))
    return planned


def plan_transitions(run: Run) -> int:
    """Turn every unprocessed, releasable transition into outbox rows; returns rows written."""
    total = 0
    with psycopg.connect(run.url, row_factory=namedtuple_row) as conn:
        definitions = segment_definitions(conn, run.schema)
        missing = [name for name in ("segment", "activation_holdout") if not relation_exists(conn, run.schema, name)]
        conn.commit()
        if definitions is None or missing:
            # Without the holdout mart a held-out person would be contacted: better late than wrong.
            run.report.note(f"{run.schema}.{', '.join(missing)} not built yet: ledger transitions wait (run dbt build)")
            return 0
        last_id = 0
        while True:
            with conn.transaction():
                rows = conn.execute(
                    """select t.* from activation.membership_transition t
                       where t.transition_id > %s
                         and not exists (select 1 from activation.transition_processed p where p.transition_id = t.transition_id)
                       order by t.transition_id
                       limit %s
                       for update of t skip locked""",
                    (last_id, CHUNK),
                ).fetchall()
                if not rows:
                    break
                last_id = rows[-1].transition_id
                elig = eligibility(conn, run.schema, [r.person_id for r in rows] + [r.merged_into_person_id for r in rows if r.merged_into_person_id])
                held_out = holdouts(conn, run.schema, [r.transition_id for r in rows if r.transition == "entered"])
                for t in rows:
                    seg = definitions.get(t.segment)
                    if seg is None:
                        run.report.note(f"segment {t.segment} has no definition in {run.schema}.segment: its transitions are skipped")
                        conn.execute("insert into activation.transition_processed (transition_id) values (%s) on conflict do nothing", (t.transition_id,))
                        continue
                    total += _plan_one(conn, run, t, seg, elig[t.person_id], elig.get(t.merged_into_person_id),
                                       t.transition_id in held_out)
            run.progress(f"planned transitions up to id {last_id}")
    run.report.planned += total
    return total
