"""Outbound sequences, human routing, objection tags, merges, and the `gdp activate` command."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from click.testing import CliRunner

from activation.render import load_template, render, template_names
from activation.runner import activate
from activation.sequences import load_sequence, sequence_names
from gdp.settings import REPO_ROOT
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_deal,
    add_event,
    add_person,
    add_segment,
    add_transition,
    db,
    fake_meta,
    fake_resend,
    make_settings,
    query,
)


def _due_now(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update activation.sequence_enrollment set next_step_at = now() where status = 'active'")


def test_sequence_sends_due_steps_and_stops_on_a_booking(db, fake_resend, fake_meta, tmp_path):
    add_segment(db, "visited_offer_2plus_no_reply", [{"channel": "outbound", "sequence": "two_line_follow_up"}], funnel="outbound")
    add_segment(db, "booked_call", [{"channel": "stop_sequences"}, {"channel": "email", "template": "pre_call"}], funnel="outbound")
    add_person(db, "lead1", "lead1@example.org", name="Grace Hopper")
    add_person(db, "lead2", "lead2@example.org")
    add_transition(db, "visited_offer_2plus_no_reply", "lead1")
    add_transition(db, "visited_offer_2plus_no_reply", "lead2")
    settings = make_settings(tmp_path, resend=fake_resend, meta=fake_meta)  # the booking is a conversion for Meta

    activate(db, settings=settings)
    assert sorted(d["email"]["subject"] for d in fake_resend.delivered) == ["Quick follow up"] * 2
    tags = {t["name"]: t["value"] for t in fake_resend.delivered[0]["email"]["tags"]}
    assert tags["funnel"] == "outbound" and tags["campaign_id"] == "two_line_follow_up"
    rows = query(db, "select person_id, next_step, next_step_at > now() + interval '2 days', status from activation.sequence_enrollment order by 1")
    assert rows == [("lead1", 2, True, "active"), ("lead2", 2, True, "active")]

    activate(db, settings=settings)
    assert len(fake_resend.delivered) == 2, "step 2 is not due for three days"

    # lead1 books a call (event, and the booked_call segment); lead2 does not. Three days later:
    add_event(db, "b1", "lead1", "call_booked")
    add_transition(db, "booked_call", "lead1", cycle="c2")
    later = query(db, "select now() + interval '3 days 1 minute'")[0][0]
    activate(db, settings=settings, now=later)

    subjects = sorted((d["email"]["to"][0], d["email"]["subject"]) for d in fake_resend.delivered)
    assert subjects == [
        ("lead1@example.org", "Before our call"), ("lead1@example.org", "Quick follow up"),
        ("lead2@example.org", "Quick follow up"), ("lead2@example.org", "Re: Quick follow up"),
    ]
    assert query(db, "select person_id, status, stopped_reason from activation.sequence_enrollment order by 1") == [
        ("lead1", "stopped", "stop_sequences:booked_call"), ("lead2", "active", None)], "until its last step was sent"
    activate(db, settings=settings, now=later)
    assert query(db, "select person_id, status, stopped_reason from activation.sequence_enrollment order by 1") == [
        ("lead1", "stopped", "stop_sequences:booked_call"), ("lead2", "completed", None)]
    assert set(fake_resend.deliveries_by_ref().values()) == {1}


def test_reply_event_and_suppression_stop_a_sequence(db, fake_resend, tmp_path):
    add_segment(db, "proposal_sent", [{"channel": "outbound", "sequence": "three_touch_close"}], funnel="outbound")
    add_person(db, "a", "a@example.org")
    add_person(db, "b", "b@example.org")
    add_transition(db, "proposal_sent", "a")
    add_transition(db, "proposal_sent", "b")
    settings = make_settings(tmp_path, resend=fake_resend)
    activate(db, settings=settings)
    assert fake_resend.requests == [], "first touch is a day after the proposal"

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f"insert into \"{SCHEMA}\".event (event_id, person_id, event_type, occurred_at) values ('r1', 'a', 'replied_negative', now())")
        conn.execute(f"update \"{SCHEMA}\".contact_eligibility set is_contactable = false, suppression_reason = 'bounced' where person_id = 'b'")
    _due_now(db)
    activate(db, settings=settings)

    assert fake_resend.requests == []
    assert query(db, "select person_id, stopped_reason from activation.sequence_enrollment order by 1") == [
        ("a", "stop condition: replied_negative"), ("b", "suppressed: bounced")]


class _Webhook:
    def __init__(self):
        self.posts: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.posts.append({"content_type": self.headers["content-type"], "json": json.loads(body)})
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def webhook():
    hook = _Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_positive_reply_notifies_a_human_and_assigns_the_deal(db, webhook, tmp_path):
    add_segment(db, "replied_positive", [{"channel": "notify_human"}, {"channel": "stop_sequences"}], funnel="outbound")
    add_segment(db, "replied_negative", [{"channel": "tag_objection"}, {"channel": "outbound", "sequence": "objection_drip"}], funnel="outbound")
    add_person(db, "p1", "p1@example.org")
    add_person(db, "p2", "p2@example.org")
    add_deal(db, "d1", "p1", "p1@example.org", owner="maria")
    add_deal(db, "d2", "p2", "p2@example.org", owner="maria", objections=["price"])
    add_transition(db, "replied_positive", "p1")
    add_transition(db, "replied_negative", "p2")
    settings = make_settings(tmp_path, notify_webhook_url=webhook.url)

    activate(db, settings=settings, channels=["outbound_sequences"])

    (post,) = webhook.posts
    assert post["content_type"] == "application/json" and "p1@example.org" in post["json"]["text"]
    assert post["json"]["blocks"][0]["type"] == "section"
    assert query(db, "select person_id, kind, value from activation.deal_annotation order by 1") == [
        ("p1", "assigned", "maria"), ("p2", "objection", "price")]
    assert query(db, "select sequence, status from activation.sequence_enrollment") == [("objection_drip", "active")]
    activate(db, settings=settings, channels=["outbound_sequences"])
    assert len(webhook.posts) == 1


def test_merge_moves_audience_membership_and_sequences_to_the_survivor(db, fake_meta, fake_resend, tmp_path):
    add_segment(db, "lost", [{"channel": "meta_audience", "audience": "lost"}, {"channel": "outbound", "sequence": "nurture_30d"}],
                funnel="outbound")
    add_person(db, "old", "old@example.org")
    add_person(db, "new", "new@example.org")
    add_transition(db, "lost", "old")
    settings = make_settings(tmp_path, meta=fake_meta, resend=fake_resend, meta_audience_ids="lost=9")
    activate(db, settings=settings)
    add_transition(db, "lost", "old", "merged", cycle="c2", merged_into="new")
    activate(db, settings=settings)

    assert [r["method"] for r in fake_meta.requests] == ["POST", "DELETE", "POST"]
    assert query(db, "select person_id, removed_at is null from activation.audience_member order by 1") == [("new", True), ("old", False)]
    assert query(db, "select person_id, status from activation.sequence_enrollment") == [("new", "active")]


def test_every_template_renders_and_every_sequence_loads(tmp_path):
    settings = make_settings(tmp_path)
    for name in template_names():
        email = render(load_template(name), settings=settings, person={"person_id": "p1", "first_name": "Ada"}, features={},
                       context={}, funnel="newsletter", outbox_key="k")
        assert email.subject and "Ada" in email.text and email.links and "Unsubscribe" in email.html, name
    for name in sequence_names():
        assert load_sequence(name).steps, name


def test_segment_activations_name_existing_templates_and_sequences():
    """Every template / sequence a segment's YAML names exists in activation/."""
    import yaml

    named = []
    for path in (REPO_ROOT / "models" / "segments").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            meta = ((model.get("config") or {}).get("meta") or model.get("meta") or {}).get("segment") or {}
            for act in meta.get("activations") or []:
                named.append((model["name"], act))
    segment_files = [p for p in (REPO_ROOT / "models" / "segments").glob("*/*.sql")]
    assert named or not segment_files, "segment SQL files exist but no activations were read from their YAML"
    missing = [(m, a) for m, a in named if a.get("channel") == "email" and a.get("template") not in template_names()]
    missing += [(m, a) for m, a in named if a.get("channel") == "outbound" and a.get("sequence") not in sequence_names()]
    assert missing == []


def test_gdp_activate_dry_run_command(db, tmp_path, monkeypatch):
    from gdp.cli import main
    from gdp.settings import get_settings

    add_segment(db, "won", [{"channel": "email", "template": "onboarding_upsell"}], funnel="outbound")
    add_person(db, "p1", "p1@example.org")
    add_transition(db, "won", "p1")
    for name, value in {"DATABASE_URL": db, "GDP_DBT_SCHEMA": SCHEMA, "GDP_DATA_DIR": str(tmp_path), "RESEND_API_KEY": "re_x",
                        "RESEND_API_BASE": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["activate", "--dry-run", "--channel", "resend_emails"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "resend_emails: 1 dry_run" in result.output
    assert query(db, "select status from activation.outbox") == [("dry_run",)]
    assert list((tmp_path / "outbox-preview").glob("*.html"))

    bad = CliRunner().invoke(main, ["activate", "--channel", "fax"])
    assert bad.exit_code == 2 and "Invalid value for '--channel'" in bad.output
