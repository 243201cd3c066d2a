"""`POST /webhooks/stripe`: Stripe events verified by the official library, keyed by event id."""

from __future__ import annotations

import logging

import stripe
from flask import Blueprint, current_app, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.webhooks import audit_headers, parse_json_object, raw_body, require_field, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("stripe", __name__)
REQUIRED_SETTINGS = {"stripe_webhook_secret": "the ingest app verifies Stripe webhooks with it"}
TOLERANCE_S = 300


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
        stripe.Webhook.construct_event(text, signature, secret, tolerance=TOLERANCE_S)
    except stripe.SignatureVerificationError as exc:
        raise Rejected(401, f"signature verification failed: {exc.user_message or exc}") from None
    except ValueError:
        raise Rejected(400, "body is not valid JSON") from None
    except (AttributeError, TypeError):
        # The signature verified, but the library cannot build an event from a JSON non-object.
        raise Rejected(400, "body must be a JSON object") from None

    payload = parse_json_object(body)
    event_id = require_field(payload, "id")
    event_type = require_field(payload, "type")
    signed_at = signature.split(",", 1)[0] if signature.startswith("t=") else None
    headers = audit_headers("User-Agent", "Content-Type")
    if signed_at:
        headers["stripe-signature-timestamp"] = signed_at.removeprefix("t=")
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
