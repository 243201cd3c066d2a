"""Meta: conversions delivered in batches with only hashed identifiers; audiences follow segments."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import psycopg

from activation import audiences as audiences_mod
from activation.match_quality import measure
from activation.runner import activate
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_event,
    add_person,
    add_segment,
    add_transition,
    assert_no_plain_pii,
    db,
    fake_meta,
    make_settings,
    query,
)

EMAIL = " Ada.Lovelace@Example.ORG "


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _capi_row(conn, event_id: str, *, age: timedelta, person_id: str | None = "p1", name: str = "Purchase") -> None:
    conn.execute(
        """insert into raw.meta_capi_event (event_id, event_name, event_time, event_source_url, person_id, fbp, fbc,
               client_ip, client_user_agent, custom_data, payload)
           values (%s, %s, %s, 'https://app.example.com/checkout', %s, 'fb.1.1700000000000.123', 'fb.1.1700000000000.AbC',
                   '203.0.113.9', 'Mozilla/5.0', '{"currency": "USD", "value": 29}', '{}')""",
        (event_id, name, datetime.now(timezone.utc) - age, person_id),
    )


def test_conversions_are_delivered_hashed_with_test_code_and_stale_ones_dropped(db, fake_meta, tmp_path):
    add_person(db, "p1", EMAIL)
    with psycopg.connect(db, autocommit=True) as conn:
        _capi_row(conn, "evt-fresh", age=timedelta(hours=1))
        _capi_row(conn, "evt-stale", age=timedelta(days=8))
    add_event(db, "srv-1", "p1", "checkout_completed", "now() - interval '1 hour'", {"amount_cents": 4900, "currency": "eur"})
    add_event(db, "srv-2", "p1", "call_booked", "now() - interval '2 hours'")
    add_event(db, "srv-old", "p1", "subscription_started", "now() - interval '9 days'")
    add_event(db, "other", "p1", "page_viewed")
    settings = make_settings(tmp_path, meta=fake_meta, meta_test_event_code="TEST123")

    report = activate(db, settings=settings, channels=["meta_capi_events"])

    assert report.total("meta_capi_events", "sent") == 3 and report.total("meta_capi_events", "expired") == 1
    (request,) = fake_meta.requests
    assert request["path"] == f"/{fake_meta.version}/{fake_meta.pixel_id}/events"
    params = request["params"]
    assert params["access_token"] == fake_meta.access_token and params["test_event_code"] == "TEST123"
    events = {e["event_id"]: e for e in params["data"]}
    assert set(events) == {"evt-fresh", "srv-1", "srv-2"}
    fresh = events["evt-fresh"]
    assert fresh["user_data"]["em"] == sha("ada.lovelace@example.org")
    assert "ph" not in fresh["user_data"], "the person has no phone, so none is sent"
    assert fresh["user_data"]["external_id"] == sha("p1")
    assert fresh["user_data"]["client_ip_address"] == "203.0.113.9" and fresh["user_data"]["fbc"] == "fb.1.1700000000000.AbC"
    assert fresh["custom_data"] == {"currency": "USD", "value": 29} and fresh["action_source"] == "website"
    assert events["srv-1"]["event_name"] == "Purchase" and events["srv-1"]["custom_data"] == {"currency": "EUR", "value": 49.0}
    assert events["srv-2"]["event_name"] == "Schedule" and events["srv-2"]["action_source"] == "system_generated"
    assert query(db, "select status, error from activation.outbox where outbox_key = 'capi:evt-stale'") == [
        ("expired", "event_time older than 7 days: Meta refuses the whole request, so it is not sent")]
    assert_no_plain_pii(fake_meta.requests, [EMAIL], [])

    activate(db, settings=settings, channels=["meta_capi_events"])
    assert len(fake_meta.requests) == 1, "delivered events are not sent again"


PAGE_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
BLOCKED_ID = "1b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
LATE_ID = "2b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


def test_one_conversion_is_one_event_at_meta_whichever_side_arrives(db, fake_meta, tmp_path):
    """The page's gdp.track('Purchase') id rides Checkout metadata.gdp_event_id to the server side."""
    for p in ("p1", "p2", "p3"):
        add_person(db, p, f"{p}@example.org")
    settings = make_settings(tmp_path, meta=fake_meta)
    # p1: Pixel fired, relay landed, Stripe's checkout carries the page's id.
    fake_meta.pixel("Purchase", PAGE_ID)
    with psycopg.connect(db, autocommit=True) as conn:
        _capi_row(conn, PAGE_ID, age=timedelta(minutes=5))
    add_event(db, "stripe-1", "p1", "checkout_completed", "now() - interval '4 minutes'",
              {"amount_cents": 2900, "currency": "usd", "gdp_event_id": PAGE_ID.upper()})
    # p2: Pixel fired but the relay was blocked: only the server can send, under the Pixel's id.
    fake_meta.pixel("Purchase", BLOCKED_ID)
    add_event(db, "stripe-2", "p2", "checkout_completed", "now() - interval '4 minutes'",
              {"amount_cents": 4900, "currency": "usd", "gdp_event_id": BLOCKED_ID})
    # p3: the server side is seen first; the relay arrives a cycle later.
    fake_meta.pixel("Purchase", LATE_ID)
    add_event(db, "stripe-3", "p3", "checkout_completed", "now() - interval '4 minutes'",
              {"amount_cents": 1900, "currency": "usd", "gdp_event_id": LATE_ID})

    activate(db, settings=settings, channels=["meta_capi_events"])
    with psycopg.connect(db, autocommit=True) as conn:
        _capi_row(conn, LATE_ID, age=timedelta(minutes=1), person_id="p3")
    activate(db, settings=settings, channels=["meta_capi_events"])

    assert sorted(fake_meta.counted("Purchase")) == sorted(("Purchase", i) for i in (PAGE_ID, BLOCKED_ID, LATE_ID)), \
        "three checkouts, three Purchases at Meta"
    assert {key: sources for key, sources in fake_meta.conversions.items()} == {
        ("Purchase", PAGE_ID): ["pixel", "capi"],
        ("Purchase", BLOCKED_ID): ["pixel", "capi"],
        ("Purchase", LATE_ID): ["pixel", "capi"],
    }, "each conversion reaches Meta once from the browser and once from the server, under one id"
    sent = {e["event"]["event_id"]: e["event"] for e in fake_meta.events}
    assert sent[PAGE_ID]["action_source"] == "website", "the relayed event went; the server added nothing"
    assert sent[BLOCKED_ID]["custom_data"] == {"currency": "USD", "value": 49.0}


def test_events_carry_every_match_key_the_person_has(db, fake_meta, tmp_path):
    add_person(db, "p1", EMAIL, name="Ada Lovelace", phone="06 4567 8912", country="IT", city="Roma",
               state="RM", postal_code="00184")
    add_person(db, "p2", "bob@example.org", phone="0491 123456")  # no country: the phone cannot be read
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("""insert into raw.click (click_id, person_id, destination_url, ip, user_agent, fbclid, clicked_at)
                        values ('c1', 'p2', 'https://example.com/', '198.51.100.7', 'UA-click', 'IwAR_Xy',
                                '2026-11-30 12:00:00+00')""")
    add_event(db, "srv-1", "p1", "subscription_started", "now() - interval '1 hour'")
    add_event(db, "srv-2", "p2", "call_booked", "now() - interval '1 hour'")

    activate(db, settings=make_settings(tmp_path, meta=fake_meta), channels=["meta_capi_events"])

    users = {e["event"]["event_id"]: e["event"]["user_data"] for e in fake_meta.events}
    assert users["srv-1"] == {
        "em": sha("ada.lovelace@example.org"), "ph": sha("390645678912"), "fn": sha("ada"), "ln": sha("lovelace"),
        "ct": sha("roma"), "st": sha("rm"), "zp": sha("00184"), "country": sha("it"), "external_id": sha("p1"),
    }
    assert users["srv-2"] == {
        "em": sha("bob@example.org"), "external_id": sha("p2"), "fbc": "fb.1.1796040000000.IwAR_Xy",
        "client_ip_address": "198.51.100.7", "client_user_agent": "UA-click",
    }, "no country, no phone; fbc built from the click's fbclid"
    assert_no_plain_pii(fake_meta.requests, [EMAIL, "bob@example.org"], ["06 4567 8912", "0491 123456"])

    with psycopg.connect(db) as conn:
        quality = measure(conn)
    assert quality.events == 2 and quality.shares["em"] == 1.0 and quality.shares["ph"] == 0.5
    assert quality.shares["fbc"] == 0.5 and quality.shares["country"] == 0.5 and quality.shares["fbp"] == 0.0
    assert quality.by_event == {"Schedule": (1, 7.5), "Subscribe": (1, 5.5)}, "em 3 + ph 1.5 + external_id 1; em + external_id + fbc 1.5 + IP + UA"


def test_conversions_go_in_requests_of_at_most_1000(db, fake_meta, tmp_path):
    add_person(db, "p1", "a@example.org")
    now = datetime.now(timezone.utc)
    with psycopg.connect(db, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.meta_capi_event (event_id, event_name, event_time, person_id, payload) values (%s, 'Lead', %s, 'p1', '{}')",
                [(f"e{i}", now) for i in range(1500)],
            )
    activate(db, settings=make_settings(tmp_path, meta=fake_meta), channels=["meta_capi_events"])
    assert [len(r["params"]["data"]) for r in fake_meta.requests] == [1000, 500]
    assert len(fake_meta.events) == 1500


def test_meta_5xx_and_429_are_retried_and_a_permanent_error_recorded(db, fake_meta, tmp_path):
    add_person(db, "p1", "a@example.org")
    with psycopg.connect(db, autocommit=True) as conn:
        _capi_row(conn, "evt-1", age=timedelta(minutes=5))
    settings = make_settings(tmp_path, meta=fake_meta)
    fake_meta.cue(500)
    fake_meta.cue(429, retry_after="0")
    activate(db, settings=settings, channels=["meta_capi_events"])
    assert len(fake_meta.requests) == 3 and len(fake_meta.events) == 1
    assert query(db, "select status from activation.outbox") == [("sent",)]

    with psycopg.connect(db, autocommit=True) as conn:
        _capi_row(conn, "evt-2", age=timedelta(minutes=5))
    fake_meta.cue(400, body=json.dumps({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                                                  "fbtrace_id": "AbCdEf"}}).encode())
    activate(db, settings=settings, channels=["meta_capi_events"])
    assert query(db, "select status, error from activation.outbox where outbox_key = 'capi:evt-2'") == [
        ("failed", "meta 400 OAuthException#100: Invalid parameter (fbtrace_id AbCdEf)")]


def test_audience_follows_the_segment_and_removes_only_whom_it_added(db, fake_meta, tmp_path):
    add_segment(db, "no_show", [{"channel": "email", "template": "reschedule"}, {"channel": "meta_audience", "audience": "no_show_retarget"}],
                funnel="outbound")
    add_person(db, "p1", EMAIL)
    add_person(db, "p2", "bob@example.org")
    add_person(db, "p3", "carol@example.org", contactable=False, reason="complained")
    add_person(db, "stranger", "stranger@example.org")
    for p in ("p1", "p2", "p3"):
        add_transition(db, "no_show", p, cycle="c1")
    settings = make_settings(tmp_path, meta=fake_meta, meta_audience_ids="no_show_retarget=6001")

    activate(db, settings=settings, channels=["meta_audiences"])

    (add,) = fake_meta.requests
    assert add["method"] == "POST" and add["path"] == f"/{fake_meta.version}/6001/users"
    payload = json.loads(add["params"]["payload"])
    assert payload["schema"] == ["EMAIL", "PHONE", "EXTERN_ID"]
    assert sorted(payload["data"]) == sorted([
        [sha("ada.lovelace@example.org"), "", sha("p1")],
        [sha("bob@example.org"), "", sha("p2")],
    ])
    assert query(db, "select status, error from activation.outbox where person_id = 'p3' and channel = 'meta_audience'") == [
        ("skipped_suppressed", "complained")]

    for p in ("p1", "stranger"):
        add_transition(db, "no_show", p, "exited", cycle="c2")
    activate(db, settings=settings, channels=["meta_audiences"])

    remove = fake_meta.requests[-1]
    assert remove["method"] == "DELETE" and json.loads(remove["params"]["payload"])["data"] == [
        [sha("ada.lovelace@example.org"), "", sha("p1")]]
    assert query(db, "select status, error from activation.outbox where person_id = 'stranger'") == [
        ("skipped", "not added by this system, so never removed")]
    assert query(db, "select person_id, removed_at is not null from activation.audience_member order by 1") == [("p1", True), ("p2", False)]
    assert fake_meta.audiences["6001"] == {(sha("bob@example.org"), "", sha("p2"))}
    assert_no_plain_pii(fake_meta.requests, [EMAIL, "bob@example.org"], [])


def test_audience_calls_hold_at_most_the_limit(db, fake_meta, tmp_path, monkeypatch):
    monkeypatch.setattr(audiences_mod, "AUDIENCE_LIMIT", 3)
    add_segment(db, "lost", [{"channel": "meta_audience", "audience": "lost"}], funnel="outbound")
    for i in range(7):
        add_person(db, f"p{i}", f"p{i}@example.org")
        add_transition(db, "lost", f"p{i}")
    activate(db, settings=make_settings(tmp_path, meta=fake_meta, meta_audience_ids="lost=77"), channels=["meta_audiences"])
    assert [len(json.loads(r["params"]["payload"])["data"]) for r in fake_meta.requests] == [3, 3, 1]
    assert len(fake_meta.audiences["77"]) == 7


def test_audience_without_configured_id_fails_with_a_reason(db, fake_meta, tmp_path):
    add_segment(db, "lost", [{"channel": "meta_audience", "audience": "lost"}], funnel="outbound")
    add_person(db, "p1", "p1@example.org")
    add_transition(db, "lost", "p1")
    activate(db, settings=make_settings(tmp_path, meta=fake_meta), channels=["meta_audiences"])
    assert fake_meta.requests == []
    assert query(db, "select status, error from activation.outbox") == [
        ("failed", "no Meta audience id for 'lost': add lost=<id> to META_AUDIENCE_IDS")]


def test_fake_meta_refuses_unhashed_audience_rows(fake_meta):
    import httpx

    body = {"access_token": fake_meta.access_token, "payload": json.dumps({"schema": ["EMAIL"], "data": [["ada@example.org"]]})}
    answer = httpx.post(f"{fake_meta.url}/{fake_meta.version}/1/users", data=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100


def test_pii_scan_catches_a_leak():
    import pytest

    leak = [{"path": "/v21.0/1/events", "query": "", "body": b'{"user_data": {"ph": "+1 (415) 555-0100"}}'}]
    with pytest.raises(AssertionError, match="phone"):
        assert_no_plain_pii(leak, [], ["+1 415 555 0100"])
    leak = [{"path": "/v21.0/1/users", "query": "", "body": b"payload=%7B%22data%22%3A+%5B%5B%22Ada%40Example.org%22%5D%5D%7D"}]
    with pytest.raises(AssertionError, match="email"):
        assert_no_plain_pii(leak, [], [])
    hashed = [{"path": "/v21.0/1/users", "query": "", "body": json.dumps({"data": [[sha("ada@example.org"), sha("14155550100")]]}).encode()}]
    assert_no_plain_pii(hashed, ["ada@example.org"], ["+1 415 555 0100"])
