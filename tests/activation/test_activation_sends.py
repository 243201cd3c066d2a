"""Every send that should happen, happens: dry-runs leave the work, caps defer (by priority), held work is planned once.

The clock is moved with activate(now=...): a capped email is due in its next window, not lost.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from activation.runner import ActivationError, activate
from tests.activation_support import (  # noqa: F401  (fixtures)
    act_db,
    add_person,
    add_segment,
    add_transition,
    db,
    fake_resend,
    make_settings,
    query,
)


def _db_now(url):
    return query(url, "select now()")[0][0]


def _statuses(url) -> dict[str, str]:
    return dict(query(url, "select segment, status from activation.outbox where channel = 'email'"))


def test_dry_run_then_a_keyed_run_sends_each_email_exactly_once(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    for p in ("p1", "p2", "p3"):
        add_person(db, p, f"{p}@example.org")
        add_transition(db, "seg_a", p)

    preview = activate(db, settings=make_settings(tmp_path, resend=fake_resend), dry_run=True)
    again = activate(db, settings=make_settings(tmp_path, resend=fake_resend), dry_run=True)

    assert fake_resend.requests == [], "a dry-run calls no provider, even with a key"
    assert preview.total("resend_emails", "dry_run") == 3 and again.total("resend_emails", "dry_run") == 0
    assert query(db, "select status, count(*) from activation.outbox group by 1") == [("dry_run", 3)]
    assert query(db, "select status, count(*) from activation.email_send group by 1") == [("dry_run", 3)]
    assert len([p for p in (tmp_path / "outbox-preview").glob("*.html") if p.name != "index.html"]) == 3

    sent = activate(db, settings=make_settings(tmp_path, resend=fake_resend))
    activate(db, settings=make_settings(tmp_path, resend=fake_resend))

    assert sent.total("resend_emails", "sent") == 3
    assert sorted(fake_resend.deliveries_by_ref().values()) == [1, 1, 1], "each email once"
    assert sorted(d["email"]["to"][0] for d in fake_resend.delivered) == ["p1@example.org", "p2@example.org", "p3@example.org"]
    assert query(db, "select status, count(*) from activation.outbox group by 1") == [("sent", 3)]
    assert query(db, "select status, count(*) from activation.email_send group by 1") == [("sent", 3)]


def test_a_real_run_without_the_key_stops_that_channel_says_which_variable_and_keeps_the_work(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    add_person(db, "p1", "p1@example.org")
    add_transition(db, "seg_a", "p1")

    with pytest.raises(ActivationError, match="RESEND_API_KEY is not set") as failed:
        activate(db, settings=make_settings(tmp_path, resend_api_base=fake_resend.url))

    assert failed.value.report.errors.keys() == {"resend_emails"}, "the other channels ran"
    assert failed.value.report.dry_run_channels == []
    assert query(db, "select status from activation.outbox") == [("pending",)]
    assert fake_resend.requests == [] and not (tmp_path / "outbox-preview").exists()

    activate(db, settings=make_settings(tmp_path, resend=fake_resend))
    assert len(fake_resend.delivered) == 1 and query(db, "select status from activation.outbox") == [("sent",)]


def test_a_capped_email_waits_and_is_sent_in_its_next_window(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    add_segment(db, "seg_b", [{"channel": "email", "template": "save_your_work"}])
    add_person(db, "p1", "a@example.org")
    add_transition(db, "seg_a", "p1")
    add_transition(db, "seg_b", "p1")
    settings = make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1)

    activate(db, settings=settings, channels=["resend_emails"])
    assert _statuses(db) == {"seg_a": "sent", "seg_b": "deferred"} and len(fake_resend.delivered) == 1
    ((waits_until, prepared),) = query(db, """select d.next_attempt_at, s.prepared_at from activation.outbox d, activation.outbox s
                                             where d.segment = 'seg_b' and s.segment = 'seg_a'""")
    assert waits_until == prepared + timedelta(days=1), "the day cap frees a slot one day after the email that fills it"

    activate(db, settings=settings, channels=["resend_emails"], now=waits_until - timedelta(minutes=1))
    assert len(fake_resend.delivered) == 1, "not before its window"
    activate(db, settings=settings, channels=["resend_emails"], now=waits_until + timedelta(minutes=1))
    assert _statuses(db) == {"seg_a": "sent", "seg_b": "sent"}
    assert sorted(d["email"]["subject"] for d in fake_resend.delivered) == sorted(
        {d["email"]["subject"] for d in fake_resend.delivered}) and len(fake_resend.delivered) == 2


def test_a_capped_email_whose_next_window_is_past_its_shelf_life_expires(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    add_segment(db, "seg_b", [{"channel": "email", "template": "save_your_work"}])
    add_person(db, "p1", "a@example.org")
    add_transition(db, "seg_a", "p1")
    add_transition(db, "seg_b", "p1")

    # One a week: the next window is 7 days away, past the default 3 days a template stays relevant.
    activate(db, settings=make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1, email_cap_per_week=1))

    assert _statuses(db) == {"seg_a": "sent", "seg_b": "expired"}
    (error,) = query(db, "select error from activation.outbox where status = 'expired'")[0]
    assert "expires 3 days" in error and "frequency cap reached" in error


def test_when_caps_collide_the_segment_with_the_higher_priority_sends(db, fake_resend, tmp_path):
    # priority: lower number = more important (models/segments/_segments.yml). The less important
    # segment's transition comes first, as it did in the demo.
    add_segment(db, "activated_not_paid_day3", [{"channel": "email", "template": "help_picking_plan"}], priority=40)
    add_segment(db, "checkout_started_no_purchase_4h", [{"channel": "email", "template": "quick_fix"}], priority=10)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "activated_not_paid_day3", "p1")
    add_transition(db, "checkout_started_no_purchase_4h", "p1")

    activate(db, settings=make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1))

    assert _statuses(db) == {"checkout_started_no_purchase_4h": "sent", "activated_not_paid_day3": "deferred"}


def _due_now(url):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update activation.sequence_enrollment set next_step_at = now() where status = 'active'")


def test_an_outbound_sequence_waits_on_a_step_that_was_not_sent(db, fake_resend, tmp_path):
    add_segment(db, "seg_news", [{"channel": "email", "template": "use_case_pack"}])
    add_segment(db, "visited_offer_2plus_no_reply", [{"channel": "outbound", "sequence": "two_line_follow_up"}],
                funnel="outbound", priority=100)
    add_person(db, "lead1", "lead1@example.org")
    add_transition(db, "seg_news", "lead1")
    settings = make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1, email_cap_per_week=10)
    activate(db, settings=settings)  # today's one email
    add_transition(db, "visited_offer_2plus_no_reply", "lead1", cycle="c2")
    activate(db, settings=settings)

    steps = "select step, status from activation.outbox where action ? 'sequence' and channel = 'email' order by step"
    assert query(db, steps) == [(1, "deferred")], "step 1 is capped today"
    _due_now(db)
    activate(db, settings=settings)
    assert query(db, steps) == [(1, "deferred")], "step 2 waits for step 1"
    (window,) = query(db, "select next_attempt_at from activation.outbox where action ? 'sequence' and step = 1")[0]

    activate(db, settings=settings, now=window + timedelta(minutes=1))
    assert query(db, steps) == [(1, "sent")]
    activate(db, settings=settings, now=window + timedelta(days=2))
    assert query(db, steps) == [(1, "sent")], "the bump comes 3 days after the first note really went out"
    activate(db, settings=settings, now=window + timedelta(days=3, minutes=5))
    assert query(db, steps) == [(1, "sent"), (2, "sent")]
    assert [d["email"]["subject"] for d in fake_resend.delivered] == [
        "Three ways teams like yours use it", "Quick follow up", "Re: Quick follow up"]


def test_held_transitions_are_planned_once_and_released_by_approval(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}, {"channel": "meta_audience", "audience": "a"}])
    add_person(db, "p1", "a@example.org")
    tid = add_transition(db, "seg_a", "p1", held=True)
    settings = make_settings(tmp_path, resend=fake_resend)

    first = activate(db, settings=settings)
    assert (first.transitions, first.planned) == (1, 2)
    assert activate(db, settings=settings).transitions == 0, "held work is not planned again each pass"
    assert query(db, "select status, count(*) from activation.outbox group by 1") == [("held", 2)]

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update activation.membership_transition set approved_at = now() where transition_id = %s", (tid,))
    assert activate(db, settings=settings, channels=["resend_emails"]).planned == 2
    assert len(fake_resend.delivered) == 1 and _statuses(db) == {"seg_a": "sent"}


def test_a_dagster_run_plans_the_ledger_once_for_all_its_activation_assets(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    add_person(db, "p1", "a@example.org")
    add_person(db, "p2", "b@example.org")
    add_transition(db, "seg_a", "p1", cycle="run1")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("insert into activation.pipeline_cycle (cycle_id, status) values ('run1', 'succeeded'), ('run2', 'succeeded')")
    settings = make_settings(tmp_path, resend=fake_resend)

    first = activate(db, settings=settings, channels=["resend_emails"], cycle_id="run1")
    add_transition(db, "seg_a", "p2", cycle="run2")  # arrives after run1 planned
    later = [activate(db, settings=settings, channels=[c], cycle_id="run1").planned
             for c in ("meta_capi_events", "meta_audiences", "outbound_sequences")]
    assert first.planned == 1 and later == [0, 0, 0]
    assert activate(db, settings=settings, channels=["resend_emails"], cycle_id="run2").planned == 1
    assert len(fake_resend.delivered) == 2
