"""`POST /webhooks/resend`: Svix-signed Resend events, keyed by `svix-id`."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, current_app, request
from svix.webhooks import Webhook, WebhookVerificationError

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.landing import JsonText
from ingest_app.validation import TOO_DEEP, check_fields
from ingest_app.webhooks import audit_headers, parse_json_object, raw_body, require_field, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("resend", __name__)
REQUIRED_SETTINGS = {"resend_webhook_secret": "the ingest app verifies Resend webhooks with it"}
SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


@functools.lru_cache(maxsize=4)
def verifier(secret: str) -> Webhook:
    """One verifier per secret (it holds only the decoded key), not a base64 decode per delivery."""
    return Webhook(secret)


@bp.post("/webhooks/resend")
def receive():
    body = raw_body()
    received = request.headers
    headers = {name: received.get(name, "") for name in SVIX_HEADERS}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise Rejected(400, f"missing header {missing[0]}")
    secret = current_app.config["GDP_SETTINGS"].resend_webhook_secret
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None
    try:
        verifier(secret).verify(text, headers)
    except WebhookVerificationError as exc:
        raise Rejected(401, f"signature verification failed: {exc}") from None
    except RecursionError:
        # svix parses the body after the signature verified.
        raise Rejected(400, TOO_DEEP) from None

    payload = parse_json_object(body)
    check_fields("resend", payload)
    event_type = require_field(payload, "type")
    svix_id = headers["svix-id"]
    new = db.land(
        "resend_event",
        "svix_id",
        {
            "svix_id": svix_id,
            "event_type": str(event_type),
            "headers": audit_headers("svix-id", "svix-timestamp", "User-Agent", "Content-Type"),
            "payload": JsonText.of(text, payload),  # the signed body as it arrived, not re-serialised
        },
    )
    log.debug("resend delivery %s type=%s duplicate=%s", svix_id, event_type, not new)
    return stored_response(new, svix_id)
