"""Resend emails from ledger transitions: one email per action, checked by a fake Resend."""

from __future__ import annotations

import re
import threading

import psycopg

from activation import keys
from activation.runner import activate
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_people,
    add_person,
    add_segment,
    add_transition,
    add_transitions,
    db,
    fake_resend,
    make_settings,
    query,
)

TAG_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _email_setup(url, template="one_minute_setup", **segment_kwargs):
    add_segment(url, "new_signup_no_activation_24h", [{"channel": "email", "template": template}], **segment_kwargs)


def test_entered_person_gets_one_email_with_tags_key_links_and_unsubscribe(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "Ada@Example.org", name="ada lovelace")
    tid = add_transition(db, "new_signup_no_activation_24h", "p1", cycle="cycle-7")
    settings = make_settings(tmp_path, resend=fake_resend)

    report = activate(db, settings=settings, channels=["resend_emails"])

    assert report.total("resend_emails", "sent") == 1
    (request,) = fake_resend.requests
    assert request["path"] == "/emails"
    assert request["headers"]["authorization"] == f"Bearer {fake_resend.api_key}"
    expected_key = f"new_signup_no_activation_24h:p1:{tid}:email:0"
    assert request["headers"]["idempotency-key"] == expected_key
    body = request["json"]
    assert body["to"] == ["Ada@Example.org"]
    assert body["subject"].startswith("Ada, your setup")
    tags = {t["name"]: t["value"] for t in body["tags"]}
    assert tags["person_id"] == "p1" and tags["campaign_id"] == "one_minute_setup" and tags["funnel"] == "newsletter"
    assert all(TAG_RE.match(t["name"]) and TAG_RE.match(t["value"]) for t in body["tags"])
    assert body["headers"]["List-Unsubscribe"].startswith("<https://t.example.com/unsubscribe?")
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r'href="([^"]+)"', body["html"])
    assert any(link.startswith("https://t.example.com/c/") for link in links), links
    from gdp.links import verify_token

    token = next(link for link in links if "/c/" in link).rsplit("/c/", 1)[1]
    minted = verify_token(settings.tracking_link_secret, token)
    assert (minted.person_id, minted.campaign_id, minted.funnel) == ("p1", "one_minute_setup", "newsletter")
    assert minted.url == "http://localhost:3000/onboarding"

    (send,) = query(db, "select outbox_key, person_id, email, campaign_id, funnel, template, resend_email_id, status, tags from activation.email_send")
    assert send[:6] == (expected_key, "p1", "Ada@Example.org", "one_minute_setup", "newsletter", "one_minute_setup")
    assert send[6] == fake_resend.delivered[0]["id"] and send[7] == "sent"
    assert send[8] == {"person_id": "p1", "campaign_id": "one_minute_setup", "funnel": "newsletter", "segment": "new_signup_no_activation_24h"}
    (row,) = query(db, "select status, attempts, provider_id, cycle_id, qualified_at < sent_at from activation.outbox")
    assert row == ("sent", 1, send[6], "cycle-7", True)

    again = activate(db, settings=settings, channels=["resend_emails"])
    assert again.total() == 0 and len(fake_resend.requests) == 1, "a second run sends nothing"


def test_429_with_retry_after_is_honoured_and_sends_once(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")
    fake_resend.cue(429, retry_after="0.2")
    fake_resend.cue(503)

    report = activate(db, settings=make_settings(tmp_path, resend=fake_resend), channels=["resend_emails"])

    assert report.total("resend_emails", "sent") == 1
    assert len(fake_resend.requests) == 3
    gaps = [b["at"] - a["at"] for a, b in zip(fake_resend.requests, fake_resend.requests[1:])]
    assert gaps[0] >= 0.2, "waited retry-after before retrying"
    assert len({r["headers"]["idempotency-key"] for r in fake_resend.requests}) == 1
    assert len(fake_resend.delivered) == 1


def test_5xx_beyond_in_call_retries_is_rescheduled_then_dead(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")
    settings = make_settings(tmp_path, resend=fake_resend, activation_max_attempts=2)
    fake_resend.cue(500, times=3)

    first = activate(db, settings=settings, channels=["resend_emails"])
    assert first.total("resend_emails", "retry_scheduled") == 1
    (row,) = query(db, "select status, attempts, next_attempt_at > now(), error from activation.outbox")
    assert row[:3] == ("pending", 1, True) and "resend 500" in row[3]

    query_update = "update activation.outbox set next_attempt_at = now()"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(query_update)
    fake_resend.cue(500, times=3)
    second = activate(db, settings=settings, channels=["resend_emails"])
    assert second.total("resend_emails", "dead") == 1
    (row,) = query(db, "select status, attempts, error from activation.outbox")
    assert row[0] == "dead" and row[1] == 2 and row[2].startswith("gave up after 2 attempts")
    assert fake_resend.delivered == []


def test_permanent_400_is_recorded_with_reason_and_not_retried(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")
    settings = make_settings(tmp_path, resend=fake_resend)
    fake_resend.cue(400, body=b'{"statusCode":400,"name":"validation_error","message":"Invalid `to` field."}')

    activate(db, settings=settings, channels=["resend_emails"])
    activate(db, settings=settings, channels=["resend_emails"])

    assert len(fake_resend.requests) == 1
    (row,) = query(db, "select status, error from activation.outbox")
    assert row == ("failed", "resend 400 validation_error: Invalid `to` field.")
    assert query(db, "select status, error from activation.email_send") == [("failed", row[1])]


def test_malformed_answer_is_retried_with_the_same_key(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")
    fake_resend.cue(200, body=b"<html>gateway</html>")

    activate(db, settings=make_settings(tmp_path, resend=fake_resend), channels=["resend_emails"])

    assert len(fake_resend.requests) == 2 and len(fake_resend.delivered) == 1
    assert query(db, "select status from activation.outbox") == [("sent",)]


def test_many_emails_go_through_the_batch_endpoint(db, fake_resend, tmp_path):
    _email_setup(db)
    people = add_people(db, 150)
    add_transitions(db, "new_signup_no_activation_24h", people)

    report = activate(db, settings=make_settings(tmp_path, resend=fake_resend), channels=["resend_emails"])

    assert report.total("resend_emails", "sent") == 150
    assert [(r["path"], len(r["json"])) for r in fake_resend.requests] == [("/emails/batch", 100), ("/emails/batch", 50)]
    assert all(r["headers"]["idempotency-key"].startswith("batch:") for r in fake_resend.requests)
    counts = fake_resend.deliveries_by_ref()
    assert len(counts) == 150 and set(counts.values()) == {1}
    assert query(db, "select count(*), count(distinct resend_email_id) from activation.email_send where status = 'sent'") == [(150, 150)]


def test_a_refused_batch_is_split_so_only_the_bad_email_fails(db, fake_resend, tmp_path):
    _email_setup(db)
    people = add_people(db, 5)
    add_transitions(db, "new_signup_no_activation_24h", people)
    fake_resend.cue(400, when=lambda r: r["path"] == "/emails/batch")
    fake_resend.cue(400, when=lambda r: r["path"] == "/emails" and r["json"]["to"] == ["p00003@example.org"],
                    body=b'{"statusCode":400,"name":"validation_error","message":"bad address"}')

    activate(db, settings=make_settings(tmp_path, resend=fake_resend), channels=["resend_emails"])

    statuses = dict(query(db, "select person_id, status from activation.outbox"))
    assert statuses == {"p00000": "sent", "p00001": "sent", "p00002": "sent", "p00003": "failed", "p00004": "sent"}
    assert set(fake_resend.deliveries_by_ref().values()) == {1} and len(fake_resend.delivered) == 4


def test_suppressed_person_entering_an_email_segment_gets_no_email(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "gone", "gone@example.org", contactable=False, reason="unsubscribed")
    add_person(db, "ok", "ok@example.org")
    add_person(db, "late", "late@example.org")
    for p in ("gone", "ok", "late"):
        add_transition(db, "new_signup_no_activation_24h", p)
    settings = make_settings(tmp_path, resend=fake_resend)
    # "late" opts out after the action was planned and rendered, before it is sent.
    from activation import emails as emails_mod
    from activation.outbox import ActivationReport, Run
    from activation.plan import plan_transitions
    from activation.runner import dry_run_channels

    run = Run(db, settings, ActivationReport(), dry_run_channels(settings, None))
    plan_transitions(run)
    emails_mod.prepare(run, dry_run=False)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f"update {SCHEMA}.contact_eligibility set is_contactable = false, suppression_reason = 'complained' where person_id = 'late'")
    activate(db, settings=settings)

    assert [d["email"]["to"] for d in fake_resend.delivered] == [["ok@example.org"]]
    assert dict(query(db, "select person_id, status || ':' || coalesce(error, '') from activation.outbox")) == {
        "gone": "skipped_suppressed:unsubscribed", "ok": "sent:", "late": "skipped_suppressed:complained",
    }


def test_frequency_cap_defers_the_second_email_of_the_day(db, fake_resend, tmp_path):
    add_segment(db, "seg_a", [{"channel": "email", "template": "use_case_pack"}])
    add_segment(db, "seg_b", [{"channel": "email", "template": "save_your_work"}])
    add_person(db, "p1", "a@example.org")
    add_transition(db, "seg_a", "p1")
    add_transition(db, "seg_b", "p1")

    activate(db, settings=make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1), channels=["resend_emails"])

    assert len(fake_resend.delivered) == 1
    rows = dict(query(db, "select segment, status from activation.outbox"))
    assert rows == {"seg_a": "sent", "seg_b": "deferred"}


def test_holdout_is_deterministic_recorded_and_not_contacted(db, fake_resend, tmp_path):
    _email_setup(db, holdout_share=1.0)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")

    activate(db, settings=make_settings(tmp_path, resend=fake_resend))

    assert fake_resend.requests == []
    assert query(db, "select status from activation.outbox") == [("holdout",)]


def test_held_transition_waits_for_approval(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    tid = add_transition(db, "new_signup_no_activation_24h", "p1", held=True)
    settings = make_settings(tmp_path, resend=fake_resend)

    activate(db, settings=settings)
    assert fake_resend.requests == [] and query(db, "select status from activation.outbox") == [("held",)]

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update activation.membership_transition set approved_at = now() where transition_id = %s", (tid,))
    activate(db, settings=settings)
    assert len(fake_resend.delivered) == 1 and query(db, "select status from activation.outbox") == [("sent",)]


def test_dry_run_records_and_renders_but_sends_nothing(db, fake_resend, tmp_path):
    _email_setup(db)
    add_person(db, "p1", "a@example.org")
    add_transition(db, "new_signup_no_activation_24h", "p1")
    settings = make_settings(tmp_path, resend_api_base=fake_resend.url)  # no RESEND_API_KEY: a preview needs none

    report = activate(db, settings=settings, dry_run=True)

    assert report.dry_run_channels and fake_resend.requests == []
    assert query(db, "select status from activation.outbox") == [("dry_run",)]
    assert query(db, "select status, email from activation.email_send") == [("dry_run", "a@example.org")]
    previews = sorted(p.suffix for p in (tmp_path / "outbox-preview").iterdir() if p.name != "index.html")
    assert previews == [".html", ".txt"]
    (page,) = [p for p in (tmp_path / "outbox-preview").glob("*.html") if p.name != "index.html"]
    html = page.read_text()
    assert html.lower().startswith("<!doctype html>"), "a real page: nothing before the doctype"
    assert "Subject: " in html and "List-Unsubscribe" in html and "/c/" in html
    index = (tmp_path / "outbox-preview" / "index.html").read_text()
    assert f'href="{page.name}"' in index and "your setup takes one minute" in index and "Dry-run emails (1)" in index


def test_two_workers_at_once_never_send_the_same_row(db, fake_resend, tmp_path):
    _email_setup(db)
    people = add_people(db, 120)
    add_transitions(db, "new_signup_no_activation_24h", people)
    settings = make_settings(tmp_path, resend=fake_resend, resend_batch_size=7)
    fake_resend.latency_s = 0.005
    errors = []

    def worker():
        try:
            activate(db, settings=settings, channels=["resend_emails"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    counts = fake_resend.deliveries_by_ref()
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert fake_resend.idempotent_replays == 0, "no request was repeated: rows were claimed by one worker each"


def test_tag_values_follow_resends_character_rules():
    assert keys.tag_value("ada@example.org") == "ada_example_org"
    assert keys.tag_value("funnel/newsletter v2") == "funnel_newsletter_v2"
    assert keys.tag_value("") == "none"
    assert len(keys.tag_value("x" * 400)) == 256
    assert TAG_RE.match(keys.tag_value("ünïcödé…"))


def test_rate_limiter_spaces_calls_at_the_configured_rate():
    from activation.http import RateLimiter

    clock = {"t": 0.0}
    slept = []

    def sleep(s):
        slept.append(s)
        clock["t"] += s

    limiter = RateLimiter(2.0, clock=lambda: clock["t"], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert clock["t"] == 2.0 and slept == [0.5, 0.5, 0.5, 0.5]


def test_unpaced_client_meets_resends_rate_limit_and_still_sends_each_once(db, fake_resend, tmp_path):
    _email_setup(db)
    add_people(db, 4)
    add_transitions(db, "new_signup_no_activation_24h", [f"p{i:05d}" for i in range(4)])
    fake_resend.rate_limit_per_s = 2

    report = activate(db, settings=make_settings(tmp_path, resend=fake_resend, resend_batch_size=1), channels=["resend_emails"])

    assert report.total("resend_emails", "sent") == 4
    assert len(fake_resend.requests) > 4, "the fake answered 429 at least once"
    first_429 = next(i for i, r in enumerate(fake_resend.requests) if i >= 2)
    retry = fake_resend.requests[first_429 + 1]
    assert retry["headers"]["idempotency-key"] == fake_resend.requests[first_429]["headers"]["idempotency-key"]
    assert retry["at"] - fake_resend.requests[first_429]["at"] >= 0.9, "waited retry-after: 1"
    assert set(fake_resend.deliveries_by_ref().values()) == {1} and len(fake_resend.delivered) == 4


def test_fake_resend_checks_auth_tags_and_idempotency_like_resend(fake_resend):
    import httpx

    email = {"from": "a@example.com", "to": ["b@example.org"], "subject": "s", "text": "t", "tags": [{"name": "person_id", "value": "p1"}]}
    auth = {"Authorization": f"Bearer {fake_resend.api_key}"}
    assert httpx.post(f"{fake_resend.url}/emails", json=email).json()["name"] == "missing_api_key"
    assert httpx.post(f"{fake_resend.url}/emails", json=email, headers={"Authorization": "Bearer nope"}).status_code == 403
    bad = email | {"tags": [{"name": "email", "value": "b@example.org"}]}
    refused = httpx.post(f"{fake_resend.url}/emails", json=bad, headers=auth)
    assert refused.status_code == 400 and refused.json()["name"] == "validation_error"
    first = httpx.post(f"{fake_resend.url}/emails", json=email, headers=auth | {"Idempotency-Key": "k1"}).json()
    again = httpx.post(f"{fake_resend.url}/emails", json=email, headers=auth | {"Idempotency-Key": "k1"}).json()
    assert first == again and len(fake_resend.delivered) == 1
    other = httpx.post(f"{fake_resend.url}/emails", json=email | {"subject": "x"}, headers=auth | {"Idempotency-Key": "k1"})
    assert other.status_code == 409 and other.json()["name"] == "invalid_idempotent_request"
    garbage = httpx.post(f"{fake_resend.url}/emails", content=b"{nope", headers=auth | {"Content-Type": "application/json"})
    assert garbage.status_code == 400


def test_caps_configured_in_dbt_win_over_the_settings(db, fake_resend, tmp_path):
    for seg, template in (("seg_a", "use_case_pack"), ("seg_b", "save_your_work"), ("seg_c", "your_first_win")):
        add_segment(db, seg, [{"channel": "email", "template": template}])
    add_person(db, "p1", "a@example.org")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f"update {SCHEMA}.contact_eligibility set email_cap_per_day = 2, email_cap_per_week = 3")
    for seg in ("seg_a", "seg_b", "seg_c"):
        add_transition(db, seg, "p1")

    activate(db, settings=make_settings(tmp_path, resend=fake_resend, email_cap_per_day=1), channels=["resend_emails"])

    assert dict(query(db, "select segment, status from activation.outbox")) == {"seg_a": "sent", "seg_b": "sent", "seg_c": "deferred"}
    assert query(db, "select error from activation.outbox where status = 'deferred'") == [
        ("frequency cap reached (2 today, 2 this week; caps 2/day, 3/week); waits for the next window",)]


# Names as each source hands them over: auth.users raw_user_meta_data.full_name, a Stripe customer's
# name and a lead's name all become person.name, and the first word of it is person.first_name.
HOSTILE_NAMES = {
    "auth_users_metadata": "[Verify](https://good.example@evil.example/login)",
    "stripe_customer": '<a href="https://evil.example/pay">Pay</a>',
    "lead": "<script>alert(1)</script>{{7*7}}[x](https://evil.example/lead)",
}


def test_hostile_names_from_every_source_render_as_text_and_mint_no_link(db, fake_resend, tmp_path):
    """Issue 13 finding 3: markup in a name must never become a link, let alone a signed tracked redirect."""
    from gdp.links import verify_token

    _email_setup(db)
    for source, name in HOSTILE_NAMES.items():
        add_person(db, source, f"{source}@example.org", name=name)
        add_transition(db, "new_signup_no_activation_24h", source)
    settings = make_settings(tmp_path, resend=fake_resend)

    activate(db, settings=settings, channels=["resend_emails"])

    sent = {d["email"]["to"][0].split("@")[0]: d["email"] for d in fake_resend.delivered}
    assert set(sent) == set(HOSTILE_NAMES)
    for source, email in sent.items():
        hrefs = re.findall(r'href="([^"]+)"', email["html"])
        tracked = [h for h in hrefs if "/c/" in h]
        assert [verify_token(settings.tracking_link_secret, h.rsplit("/c/", 1)[1]).url for h in tracked] == [
            "http://localhost:3000/onboarding"], source
        assert all(h.startswith("https://t.example.com/") for h in hrefs), (source, hrefs)
        assert "evil.example" not in " ".join(hrefs), source
        assert "<script" not in email["html"].lower() and "<a href=\"https://evil" not in email["html"], source
        assert "{{" not in email["text"] or "{{7*7}}" in email["text"], source
        assert "49" not in email["text"], "a name is never evaluated as a template"
        text_links = re.findall(r"https?://\S+/c/\S+", email["text"])
        assert len(text_links) == 1, (source, email["text"])
    lead = sent["lead"]
    assert "&lt;script&gt;" in lead["html"].lower() and "{{7*7}}" in lead["html"], "the name is shown, escaped, as the person typed it"
    assert "[Verify](Https://Good.Example@Evil.Example/Login)" in sent["auth_users_metadata"]["text"], "text part keeps it as plain text"
