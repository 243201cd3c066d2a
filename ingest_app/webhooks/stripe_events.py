"""`POST /webhooks/stripe`: Stripe events verified by the official library, keyed by event id.

The library refuses signatures older than the tolerance but accepts any future
`t=`; a future timestamp beyond the same five minutes is refused here, as Svix
and Calendly do, so a delivery cannot be signed now to be replayed later. The
header is verified without parsing (`verify_header`), so the body meets the depth
and surrogate limits of `parse_json_object` before any JSON parser.
"""

from __future__ import annotations

import logging
import time

import stripe
from flask import Blueprint, current_app, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.validation import check_fields
from ingest_app.webhooks import audit_headers, parse_json_object, raw_body, require_field, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("stripe", __name__)
REQUIRED_SETTINGS = {"stripe_webhook_secret": "the ingest app verifies Stripe webhooks with it"}
TOLERANCE_S = 300


def signed_timestamp(header: str) -> int:
    """The `t=` of a header the library has verified (so it is there and an integer)."""
    return int(next(item[1] for item in (part.split("=", 2) for part in header.split(",")) if item[0] == "t"))


@bp.post("/webhooks/stripe")
def receive():
    body = raw_body()
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        raise Rejected(400, "missing header Stripe-Signature")
    secret = current_app.config["GDP_SETTINGS"].stripe_webhook_secret
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=TOLERANCE_S)
    except stripe.SignatureVerificationError as exc:
        raise Rejected(401, f"signature verification failed: {exc.user_message or exc}") from None
    signed_at = signed_timestamp(signature)
    if signed_at > time.time() + TOLERANCE_S:
        raise Rejected(401, "signature timestamp outside the 5-minute tolerance")

    payload = parse_json_object(body)
    check_fields("stripe", payload)
    event_id = require_field(payload, "id")
    event_type = require_field(payload, "type")
    headers = audit_headers("User-Agent", "Content-Type")
    headers["stripe-signature-timestamp"] = str(signed_at)
    new = db.land(
        "stripe_event",
        "stripe_event_id",
        {
            "stripe_event_id": str(event_id),
            "event_type": str(event_type),
            "livemode": bool(payload.get("livemode", False)),
            "headers": headers,
            "payload": payload,
        },
    )
    log.debug("stripe delivery %s type=%s duplicate=%s", event_id, event_type, not new)
    return stored_response(new, str(event_id))
