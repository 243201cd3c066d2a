"""Cal.com and Calendly booking webhooks with their real signature schemes."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone

import pytest

from gdp.settings import MissingSetting, Settings
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import (
    cal_booking_payload,
    cal_delivery,
    calendly_delivery,
    calendly_invitee_payload,
    encode,
)

CAL_SECRET = TEST_SECRETS["cal_webhook_secret"]
CALENDLY_KEY = TEST_SECRETS["calendly_webhook_signing_key"]
CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def post(client, delivery, headers=None, body=None):
    return client.post(
        delivery.path,
        data=delivery.body if body is None else body,
        headers=delivery.headers if headers is None else headers,
    )


def rows(conn, table, column):
    return conn.execute(f"select delivery_id, {column}, payload from raw.{table} order by landing_id").fetchall()


# --- Cal.com ------------------------------------------------------------------

CAL_TRIGGERS = ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "MEETING_ENDED", "BOOKING_NO_SHOW_UPDATED"]


@pytest.mark.parametrize("trigger", CAL_TRIGGERS)
def test_cal_each_trigger_lands_once(client, clean_raw, trigger):
    payload = cal_booking_payload(trigger, "Ada@Example.org", uid="bk_123", created_at=CREATED)
    delivery = cal_delivery(payload, CAL_SECRET)
    first = post(client, delivery)
    assert first.status_code == 200 and first.json["duplicate"] is False
    assert post(client, delivery).json["duplicate"] is True
    stored = rows(clean_raw, "cal_event", "trigger_event")
    assert len(stored) == 1
    key, stored_trigger, stored_payload = stored[0]
    assert key == f"{trigger}:bk_123:2026-11-20T09:00:00Z"
    assert stored_trigger == trigger
    assert stored_payload == payload


def test_cal_no_show_carries_attendee_flags(client, clean_raw):
    payload = cal_booking_payload("BOOKING_NO_SHOW_UPDATED", "ada@example.org", uid="bk_9", created_at=CREATED)
    assert post(client, cal_delivery(payload, CAL_SECRET)).status_code == 200
    flags = clean_raw.execute(
        "select a ->> 'email', (a ->> 'noShow')::boolean from raw.cal_event, "
        "jsonb_array_elements(payload -> 'payload' -> 'attendees') as a"
    ).fetchall()
    assert flags == [("ada@example.org", True)]


def test_cal_same_booking_created_then_cancelled_is_two_rows(client, clean_raw):
    for trigger in ("BOOKING_CREATED", "BOOKING_CANCELLED"):
        post(client, cal_delivery(cal_booking_payload(trigger, "a@b.co", uid="bk_1", created_at=CREATED), CAL_SECRET))
    assert [r[1] for r in rows(clean_raw, "cal_event", "trigger_event")] == ["BOOKING_CREATED", "BOOKING_CANCELLED"]


@pytest.mark.parametrize(
    "mutate, status, reason",
    [
        (lambda h, b: ({**h, "X-Cal-Signature-256": "0" * 64}, b), 401, "signature verification failed"),
        (lambda h, b: (h, b.replace(b"a@b.co", b"x@b.co")), 401, "signature verification failed"),
        (lambda h, b: ({**h, "X-Cal-Signature-256": hmac.new(b"other", b, hashlib.sha256).hexdigest()}, b), 401,
         "signature verification failed"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-Cal-Signature-256"}, b), 400,
         "missing header X-Cal-Signature-256"),
    ],
    ids=["wrong-signature", "tampered-body", "other-secret", "missing-header"],
)
def test_cal_refuses_bad_signatures_and_stores_nothing(client, clean_raw, mutate, status, reason):
    delivery = cal_delivery(cal_booking_payload("BOOKING_CREATED", "a@b.co"), CAL_SECRET)
    headers, body = mutate(dict(delivery.headers), delivery.body)
    response = post(client, delivery, headers, body)
    assert response.status_code == status and response.json["error"] == reason
    assert rows(clean_raw, "cal_event", "trigger_event") == []


def signed_cal(body: bytes) -> dict[str, str]:
    return {"X-Cal-Signature-256": hmac.new(CAL_SECRET.encode(), body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{nope", "body is not valid JSON"),
        (encode({"createdAt": "2026-11-20T09:00:00Z", "payload": {"uid": "u"}}), "missing field 'triggerEvent'"),
        (encode({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "u"}}), "missing field 'createdAt'"),
        (encode({"triggerEvent": "BOOKING_CREATED", "createdAt": "t", "payload": "x"}), "field 'payload' must be an object"),
        (encode({"triggerEvent": "BOOKING_CREATED", "createdAt": "t", "payload": {"title": "x"}}),
         "payload has no booking uid or bookingId"),
    ],
    ids=["invalid-json", "no-trigger", "no-created-at", "payload-not-object", "no-booking-id"],
)
def test_cal_malformed_signed_bodies_are_400(client, clean_raw, body, reason):
    response = client.post("/webhooks/cal", data=body, headers=signed_cal(body))
    assert response.status_code == 400 and response.json["error"] == reason
    assert rows(clean_raw, "cal_event", "trigger_event") == []


# --- Calendly -----------------------------------------------------------------

CALENDLY_EVENTS = ["invitee.created", "invitee.canceled", "invitee_no_show.created"]


@pytest.mark.parametrize("event", CALENDLY_EVENTS)
def test_calendly_each_event_lands_once(client, clean_raw, event):
    payload = calendly_invitee_payload(event, "ada@example.org", created_at=CREATED)
    first = post(client, calendly_delivery(payload, CALENDLY_KEY))
    assert first.status_code == 200 and first.json["duplicate"] is False
    # A redelivery is signed again at another time; the derived key still matches.
    retry = calendly_delivery(payload, CALENDLY_KEY, signed_at=int(time.time()) + 5)
    assert post(client, retry).json["duplicate"] is True
    stored = rows(clean_raw, "calendly_event", "event_type")
    assert len(stored) == 1
    key, event_type, stored_payload = stored[0]
    assert event_type == event
    assert key == f"{event}:{payload['payload']['uri']}:{payload['created_at']}"
    assert stored_payload["payload"]["email"] == "ada@example.org"


def test_calendly_reschedule_is_a_cancel_and_a_create(client, clean_raw):
    old = calendly_invitee_payload("invitee.canceled", "a@b.co", created_at=CREATED)
    old["payload"]["rescheduled"] = True
    new = calendly_invitee_payload("invitee.created", "a@b.co", created_at=CREATED)
    for payload in (old, new):
        assert post(client, calendly_delivery(payload, CALENDLY_KEY)).status_code == 200
    assert len(rows(clean_raw, "calendly_event", "event_type")) == 2


def _calendly_header(body: bytes, key: str, t: int) -> str:
    return f"t={t},v1=" + hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "make_header, status, reason",
    [
        (lambda b, now: _calendly_header(b, "wrong-key", now), 401, "signature verification failed"),
        (lambda b, now: _calendly_header(b, CALENDLY_KEY, now - 301), 401,
         "signature timestamp outside the 5-minute tolerance"),
        (lambda b, now: _calendly_header(b, CALENDLY_KEY, now + 301), 401,
         "signature timestamp outside the 5-minute tolerance"),
        # Signed for one timestamp, presented with another: the timestamp is part of what is signed.
        (lambda b, now: _calendly_header(b, CALENDLY_KEY, now - 10).replace(f"t={now - 10}", f"t={now}"), 401,
         "signature verification failed"),
        (lambda b, now: f"v1={'0' * 64}", 401, "Calendly-Webhook-Signature is not t=<unix>,v1=<hex>"),
        (lambda b, now: f"t={now}", 401, "Calendly-Webhook-Signature is not t=<unix>,v1=<hex>"),
    ],
    ids=["wrong-key", "stale", "future", "swapped-timestamp", "no-timestamp", "no-v1"],
)
def test_calendly_refuses_bad_or_stale_signatures(client, clean_raw, make_header, status, reason):
    body = encode(calendly_invitee_payload("invitee.created", "a@b.co"))
    header = make_header(body, int(time.time()))
    response = client.post("/webhooks/calendly", data=body, headers={"Calendly-Webhook-Signature": header})
    assert response.status_code == status and response.json["error"] == reason
    assert rows(clean_raw, "calendly_event", "event_type") == []


def test_calendly_within_tolerance_is_accepted(client, clean_raw):
    delivery = calendly_delivery(calendly_invitee_payload("invitee.created", "a@b.co"), CALENDLY_KEY,
                                 signed_at=int(time.time()) - 240)
    assert post(client, delivery).status_code == 200


def test_calendly_tampered_body_and_missing_header(client, clean_raw):
    delivery = calendly_delivery(calendly_invitee_payload("invitee.created", "a@b.co"), CALENDLY_KEY)
    tampered = post(client, delivery, body=delivery.body.replace(b"a@b.co", b"x@b.co"))
    assert tampered.status_code == 401
    missing = post(client, delivery, headers={"Content-Type": "application/json"})
    assert missing.status_code == 400 and missing.json["error"] == "missing header Calendly-Webhook-Signature"
    assert rows(clean_raw, "calendly_event", "event_type") == []


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[1, 2", "body is not valid JSON"),
        (encode({"created_at": "t", "payload": {"uri": "u"}}), "missing field 'event'"),
        (encode({"event": "invitee.created", "payload": {"uri": "u"}}), "missing field 'created_at'"),
        (encode({"event": "invitee.created", "created_at": "t", "payload": {"email": "a@b.co"}}),
         "missing field 'payload.uri'"),
        (encode({"event": "invitee.created", "created_at": "t", "payload": []}), "field 'payload' must be an object"),
    ],
    ids=["invalid-json", "no-event", "no-created-at", "no-uri", "payload-not-object"],
)
def test_calendly_malformed_signed_bodies_are_400(client, clean_raw, body, reason):
    header = _calendly_header(body, CALENDLY_KEY, int(time.time()))
    response = client.post("/webhooks/calendly", data=body, headers={"Calendly-Webhook-Signature": header})
    assert response.status_code == 400 and response.json["error"] == reason
    assert rows(clean_raw, "calendly_event", "event_type") == []


@pytest.mark.parametrize("missing", ["cal_webhook_secret", "calendly_webhook_signing_key"])
def test_missing_secret_refuses_to_start_naming_the_variable(missing, database_url):
    from ingest_app import create_app

    secrets = {k: v for k, v in TEST_SECRETS.items() if k != missing}
    with pytest.raises(MissingSetting, match=missing.upper()):
        create_app(Settings(**secrets), {"DATABASE_URL": database_url})
