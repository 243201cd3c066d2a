"""Resend and Stripe endpoints: every answer the foundation promises."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from gdp.settings import MissingSetting, Settings
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import encode, resend_delivery, stripe_delivery

RESEND_SECRET = TEST_SECRETS["resend_webhook_secret"]
STRIPE_SECRET = TEST_SECRETS["stripe_webhook_secret"]


def resend_payload(event_type="email.delivered", email_id="em_1"):
    return {
        "type": event_type,
        "created_at": "2026-11-20T10:00:00.000Z",
        "data": {
            "email_id": email_id,
            "created_at": "2026-11-20T09:59:58.000Z",
            "from": "Team <team@example.com>",
            "to": ["ada@example.org"],
            "subject": "Welcome",
            "tags": {"person_id": "p_1", "campaign_id": "welcome", "funnel": "newsletter"},
        },
    }


def stripe_payload(event_id="evt_1", event_type="customer.created"):
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": 1763632800,
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "data": {"object": {"id": "cus_1", "object": "customer", "email": "ada@example.org"}},
    }


def post(client, delivery):
    return client.post(delivery.path, data=delivery.body, headers=delivery.headers)


def count(conn, table):
    return conn.execute(f"select count(*) from raw.{table}").fetchone()[0]


# --- Resend -----------------------------------------------------------------


def test_resend_valid_delivery_lands_once(client, clean_raw):
    delivery = resend_delivery(resend_payload(), RESEND_SECRET, svix_id="msg_valid")
    first = post(client, delivery)
    assert first.status_code == 200 and first.json["duplicate"] is False
    again = post(client, delivery)
    assert again.status_code == 200 and again.json["duplicate"] is True
    row = clean_raw.execute("select event_type, payload, headers from raw.resend_event").fetchall()
    assert len(row) == 1
    event_type, payload, headers = row[0]
    assert event_type == "email.delivered"
    assert payload["data"]["tags"]["person_id"] == "p_1"
    assert headers["svix-id"] == "msg_valid"
    assert "svix-signature" not in {k.lower() for k in headers}


@pytest.mark.parametrize(
    "mutate, status, reason",
    [
        (lambda h, b: ({**h, "svix-signature": "v1,AAAA"}, b), 401, "signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "svix-signature"}, b), 400, "missing header svix-signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "svix-id"}, b), 400, "missing header svix-id"),
        (lambda h, b: (h, b.replace(b"delivered", b"bounced")), 401, "signature"),
    ],
    ids=["bad-signature", "missing-signature", "missing-id", "tampered-body"],
)
def test_resend_refuses_bad_signatures_and_stores_nothing(client, clean_raw, mutate, status, reason):
    delivery = resend_delivery(resend_payload(), RESEND_SECRET)
    headers, body = mutate(dict(delivery.headers), delivery.body)
    response = client.post(delivery.path, data=body, headers=headers)
    assert response.status_code == status
    assert reason in response.json["error"]
    assert count(clean_raw, "resend_event") == 0


def test_resend_refuses_stale_signature(client, clean_raw):
    stale = datetime.now(timezone.utc) - timedelta(minutes=10)
    response = post(client, resend_delivery(resend_payload(), RESEND_SECRET, signed_at=stale))
    assert response.status_code == 401
    assert count(clean_raw, "resend_event") == 0


def test_resend_signed_with_another_secret_is_refused(client, clean_raw):
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=="
    assert post(client, resend_delivery(resend_payload(), other)).status_code == 401
    assert count(clean_raw, "resend_event") == 0


def test_resend_invalid_json_is_400(client, clean_raw):
    from svix.webhooks import Webhook

    body = b'{"type": "email.sent", '
    now = datetime.now(timezone.utc)
    headers = {
        "svix-id": "msg_badjson",
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(RESEND_SECRET).sign("msg_badjson", now, body.decode()),
    }
    response = client.post("/webhooks/resend", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["error"] == "body is not valid JSON"
    assert count(clean_raw, "resend_event") == 0


def test_resend_missing_type_is_400(client, clean_raw):
    response = post(client, resend_delivery({"data": {}}, RESEND_SECRET))
    assert response.status_code == 400 and "type" in response.json["error"]


def test_body_over_one_mib_is_413(client, clean_raw):
    payload = resend_payload()
    payload["data"]["subject"] = "x" * (1024 * 1024)
    response = post(client, resend_delivery(payload, RESEND_SECRET))
    assert response.status_code == 413
    assert count(clean_raw, "resend_event") == 0


# --- Stripe -----------------------------------------------------------------


def test_stripe_valid_delivery_lands_once(client, clean_raw):
    delivery = stripe_delivery(stripe_payload("evt_once"), STRIPE_SECRET)
    assert post(client, delivery).json == {"ok": True, "duplicate": False, "id": "evt_once"}
    # Stripe re-signs a retry with a new timestamp; the event id is what dedups.
    retry = stripe_delivery(stripe_payload("evt_once"), STRIPE_SECRET, signed_at=int(time.time()) + 1)
    assert post(client, retry).json["duplicate"] is True
    rows = clean_raw.execute("select stripe_event_id, event_type, headers from raw.stripe_event").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("evt_once", "customer.created")]
    assert "Stripe-Signature" not in rows[0][2]


def test_stripe_bad_signature_is_401_and_stores_nothing(client, clean_raw):
    delivery = stripe_delivery(stripe_payload(), "whsec_someone_else")
    response = post(client, delivery)
    assert response.status_code == 401 and "signature" in response.json["error"]
    assert count(clean_raw, "stripe_event") == 0


def test_stripe_missing_signature_is_400(client, clean_raw):
    response = client.post("/webhooks/stripe", data=encode(stripe_payload()))
    assert response.status_code == 400 and response.json["error"] == "missing header Stripe-Signature"


def test_stripe_stale_signature_is_401(client, clean_raw):
    delivery = stripe_delivery(stripe_payload(), STRIPE_SECRET, signed_at=int(time.time()) - 3600)
    assert post(client, delivery).status_code == 401
    assert count(clean_raw, "stripe_event") == 0


def test_stripe_signature_from_the_future_is_401_beyond_five_minutes(client, clean_raw):
    """Like Svix and Calendly: +-5 minutes both ways, so a delivery signed ahead cannot be replayed later."""
    ahead = stripe_delivery(stripe_payload("evt_future"), STRIPE_SECRET, signed_at=int(time.time()) + 3600)
    answer = post(client, ahead)
    assert answer.status_code == 401 and "tolerance" in answer.json["error"]
    assert count(clean_raw, "stripe_event") == 0
    slightly_ahead = stripe_delivery(stripe_payload("evt_skew"), STRIPE_SECRET, signed_at=int(time.time()) + 60)
    assert post(client, slightly_ahead).status_code == 200
    assert count(clean_raw, "stripe_event") == 1


def test_stripe_invalid_json_is_400(client, clean_raw):
    import stripe

    body = "{not json"
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET, timestamp=int(time.time()))
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 400 and response.json["error"] == "body is not valid JSON"
    assert count(clean_raw, "stripe_event") == 0


def test_stripe_body_over_limit_is_413(client, clean_raw):
    payload = stripe_payload()
    payload["data"]["object"]["description"] = "y" * (1024 * 1024 + 1)
    assert post(client, stripe_delivery(payload, STRIPE_SECRET)).status_code == 413


# --- Health, outage, configuration ------------------------------------------


def test_healthz_ok(client):
    assert client.get("/healthz").json == {"status": "ok"}


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_database_down_answers_503_and_health_says_so(settings):
    from ingest_app import create_app

    # A server that is not there: nothing listens on this socket directory.
    dead = "postgresql://postgres@/postgres?host=/nonexistent-gdp-socket-dir"
    app = create_app(settings, {"TESTING": True, "DATABASE_URL": dead})
    try:
        client = app.test_client()
        started = time.monotonic()
        response = post(client, resend_delivery(resend_payload(), RESEND_SECRET))
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert time.monotonic() - started < 15, "an outage must not hang the provider"
        assert client.get("/healthz").status_code == 503
    finally:
        app.extensions["gdp_pool"].close()


@pytest.mark.parametrize("missing", ["resend_webhook_secret", "stripe_webhook_secret"])
def test_missing_secret_refuses_to_start_naming_the_variable(missing, database_url):
    from ingest_app import create_app

    secrets = {k: v for k, v in TEST_SECRETS.items() if k != missing}
    with pytest.raises(MissingSetting) as excinfo:
        create_app(Settings(**secrets), {"DATABASE_URL": database_url})
    assert missing.upper() in str(excinfo.value)


def test_stored_payload_is_the_exact_json_received(client, clean_raw):
    payload = resend_payload("email.clicked")
    payload["data"]["click"] = {"ipAddress": "1.2.3.4", "link": "https://x.test/?a=1", "timestamp": "2026-11-20T10:00:01.000Z", "userAgent": "UA"}
    post(client, resend_delivery(payload, RESEND_SECRET))
    stored = clean_raw.execute("select payload from raw.resend_event").fetchone()[0]
    assert json.dumps(stored, sort_keys=True) == json.dumps(payload, sort_keys=True)


def signed_resend(body: bytes, svix_id: str) -> dict[str, str]:
    from svix.webhooks import Webhook

    now = datetime.now(timezone.utc)
    return {"svix-id": svix_id, "svix-timestamp": str(int(now.timestamp())), "Content-Type": "application/json",
            "svix-signature": Webhook(RESEND_SECRET).sign(svix_id, now, body.decode("utf-8"))}


def test_stored_payload_keeps_the_numbers_as_delivered(client, clean_raw):
    """The body lands as the text that arrived: a number is stored with the digits the provider sent."""
    body = (b'{"type": "email.opened", "created_at": "2026-11-20T10:00:00Z",'
            b' "data": {"email_id": "em_n", "score": 1.10, "big": 12345678901234567890.5, "hundred": 1e2}}')
    response = client.post("/webhooks/resend", data=body, headers=signed_resend(body, "msg_numbers"))
    assert response.status_code == 200 and response.json["duplicate"] is False
    stored = clean_raw.execute(
        "select payload->'data'->>'score', payload->'data'->>'big', payload->'data'->>'hundred' from raw.resend_event"
    ).fetchone()
    assert stored == ("1.10", "12345678901234567890.5", "100")


def test_a_body_with_a_byte_order_mark_lands_and_nan_is_refused_with_400(client, clean_raw):
    bom = "\ufeff".encode() + b'{"type": "email.sent", "data": {"email_id": "em_bom"}}'
    assert client.post("/webhooks/resend", data=bom, headers=signed_resend(bom, "msg_bom")).status_code == 200
    nan = b'{"type": "email.sent", "data": {"email_id": "em_nan", "score": NaN}}'
    response = client.post("/webhooks/resend", data=nan, headers=signed_resend(nan, "msg_nan"))
    assert response.status_code == 400 and "cannot be stored" in response.json["error"]
    assert [r[0] for r in clean_raw.execute("select svix_id from raw.resend_event")] == ["msg_bom"]
