"""`POST /webhooks/calendly`: Calendly invitee events, verified by `Calendly-Webhook-Signature`.

The header is `t=<unix>,v1=<hex>`: HMAC-SHA256 over `{t}.{raw body}` with the
webhook signing key. A signature older (or newer) than five minutes is refused
so a captured delivery cannot be replayed later. Calendly sends no delivery id;
the key is the event, the payload's `uri` and `created_at`, which a redelivery
repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from flask import Blueprint, current_app, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.validation import check_fields
from ingest_app.webhooks import audit_headers, parse_json_object, raw_body, require_field, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("calendly", __name__)
REQUIRED_SETTINGS = {"calendly_webhook_signing_key": "the ingest app verifies Calendly webhooks with it"}
SIGNATURE_HEADER = "Calendly-Webhook-Signature"
TOLERANCE_S = 300
EVENTS = frozenset({"invitee.created", "invitee.canceled", "invitee_no_show.created"})


def sign(body: bytes, key: str, timestamp: int) -> str:
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def parse_header(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise Rejected(401, f"{SIGNATURE_HEADER} is not t=<unix>,v1=<hex>")
    return int(timestamp), signatures


def verify(body: bytes, header: str, key: str, now: float | None = None) -> None:
    timestamp, signatures = parse_header(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_S:
        raise Rejected(401, "signature timestamp outside the 5-minute tolerance")
    expected = sign(body, key, timestamp).encode()
    if not any(hmac.compare_digest(candidate.encode(), expected) for candidate in signatures):
        raise Rejected(401, "signature verification failed")


@bp.post("/webhooks/calendly")
def receive():
    body = raw_body()
    header = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not header:
        raise Rejected(400, f"missing header {SIGNATURE_HEADER}")
    verify(body, header, current_app.config["GDP_SETTINGS"].calendly_webhook_signing_key)

    envelope = parse_json_object(body)
    event = str(require_field(envelope, "event"))
    created_at = str(require_field(envelope, "created_at"))
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise Rejected(400, "field 'payload' must be an object")
    uri = payload.get("uri")
    if uri in (None, ""):
        raise Rejected(400, "missing field 'payload.uri'")
    check_fields("calendly", envelope)
    key = f"{event}:{uri}:{created_at}"
    if event not in EVENTS:
        log.info("calendly delivery with unhandled event %s stored", event)
    new = db.land(
        "calendly_event",
        "delivery_id",
        {
            "delivery_id": key,
            "event_type": event,
            "headers": audit_headers("User-Agent", "Content-Type"),
            "payload": envelope,
        },
    )
    log.debug("calendly delivery %s duplicate=%s", key, not new)
    return stored_response(new, key)
