"""`POST /webhooks/cal`: Cal.com bookings, verified by `X-Cal-Signature-256`.

Cal.com signs the raw body (hex HMAC-SHA256 with the webhook secret, no
timestamp) and sends no delivery id, so the key is derived from what a
redelivery repeats: the trigger, the booking's uid (or id) and `createdAt`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, current_app, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.validation import check_fields
from ingest_app.webhooks import audit_headers, parse_json_object, raw_body, require_field, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("cal", __name__)
REQUIRED_SETTINGS = {"cal_webhook_secret": "the ingest app verifies Cal.com webhooks with it"}
SIGNATURE_HEADER = "X-Cal-Signature-256"
# The triggers staging reads; others (e.g. Cal's set-up ping) are stored too, since
# refusing them would only make Cal retry, but logged so a new trigger is noticed.
TRIGGERS = frozenset(
    {"BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "MEETING_ENDED", "BOOKING_NO_SHOW_UPDATED"}
)


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_key(trigger: str, payload: dict, created_at: str) -> str:
    booking = payload.get("uid") or payload.get("bookingUid") or payload.get("bookingId") or payload.get("id")
    if booking in (None, ""):
        raise Rejected(400, "payload has no booking uid or bookingId")
    return f"{trigger}:{booking}:{created_at}"


@bp.post("/webhooks/cal")
def receive():
    body = raw_body()
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not signature:
        raise Rejected(400, f"missing header {SIGNATURE_HEADER}")
    secret = current_app.config["GDP_SETTINGS"].cal_webhook_secret
    if not hmac.compare_digest(signature.lower().encode(), sign(body, secret).encode()):
        raise Rejected(401, "signature verification failed")

    envelope = parse_json_object(body)
    trigger = str(require_field(envelope, "triggerEvent"))
    created_at = str(require_field(envelope, "createdAt"))
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise Rejected(400, "field 'payload' must be an object")
    key = delivery_key(trigger, payload, created_at)
    check_fields("cal", envelope)
    if trigger not in TRIGGERS:
        log.info("cal delivery with unhandled trigger %s stored", trigger)
    new = db.land(
        "cal_event",
        "delivery_id",
        {
            "delivery_id": key,
            "trigger_event": trigger,
            "headers": audit_headers("User-Agent", "Content-Type"),
            "payload": envelope,
        },
    )
    log.debug("cal delivery %s duplicate=%s", key, not new)
    return stored_response(new, key)
