"""The report's "What activation did" summary counts as sent only what reached a provider or a person."""

from __future__ import annotations

import uuid

from tools.report import _sends

# report_send rows as dbt writes them (outcomes named by stg_activation__outbox).
ROWS = [
    ("visited_offer", "outbound", "", "enrolled", "", 86),
    ("visited_offer", "email", "two_line_follow_up", "deferred", "frequency cap reached", 86),
    ("visited_offer", "email", "case_study_drop", "expired", "frequency cap reached", 46),
    ("visited_offer", "email", "case_study_drop", "dry-run", "", 69),
    ("replied_negative", "tag_objection", "", "tagged", "", 28),
    ("replied_negative", "email", "objection", "sent", "", 3),
    ("replied_negative", "email", "objection", "held-out", "", 2),
    ("replied_negative", "email", "objection", "suppressed", "bounced", 1),
]


def test_enrolments_and_tags_are_not_sends_and_expired_emails_show(conn):
    schema = f"report_sends_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create schema {schema}")
    try:
        conn.execute(f"create table {schema}.report_send (segment text, channel text, template text, outcome text, "
                     "reason text, actions bigint)")
        with conn.cursor() as cur:
            cur.executemany(f"insert into {schema}.report_send values (%s, %s, %s, %s, %s, %s)", ROWS)
        section = _sends(conn, schema)
    finally:
        conn.execute(f"drop schema {schema} cascade")

    summary, detail = section.tables
    assert summary.columns == ["segment", "sent", "dry-run", "deferred", "expired", "suppressed", "held out"]
    rows = {r[0]: dict(zip(summary.columns[1:], r[1:])) for r in summary.rows}
    assert rows["visited_offer"] == {"sent": 0, "dry-run": 69, "deferred": 86, "expired": 46, "suppressed": 0,
                                     "held out": 0}, "86 enrolments sent no email; 46 capped emails expired"
    assert rows["replied_negative"] == {"sent": 3, "dry-run": 0, "deferred": 0, "expired": 0, "suppressed": 1,
                                        "held out": 2}, "the deal tags are not sends"
    # The enrolments and tags stay visible in the detail, under their own names.
    assert ("visited_offer", "outbound", "", "enrolled", "", 86) in detail.rows
    assert ("replied_negative", "tag_objection", "", "tagged", "", 28) in detail.rows
