"""Signed provider deliveries, built the way each provider builds them.

The simulator, `make demo`, the benchmarks and the tests all send webhooks
through the real HTTP endpoints; this module signs them with the providers'
real schemes (the official `svix` and `stripe` libraries), so what passes here
passes in production.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import stripe
from svix.webhooks import Webhook


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def resend_delivery(
    payload: dict[str, Any], secret: str, *, svix_id: str | None = None, signed_at: datetime | None = None
) -> Delivery:
    body = encode(payload)
    svix_id = svix_id or f"msg_{uuid.uuid4().hex}"
    signed_at = signed_at or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(svix_id, signed_at, body.decode())
    headers = {
        "svix-id": svix_id,
        "svix-timestamp": str(int(signed_at.timestamp())),
        "svix-signature": signature,
        "Content-Type": "application/json",
        "User-Agent": "Svix-Webhooks/1.0",
    }
    return Delivery("/webhooks/resend", body, headers)


def stripe_delivery(payload: dict[str, Any], secret: str, *, signed_at: int | None = None) -> Delivery:
    body = encode(payload)
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=signed_at or int(time.time())
    )
    headers = {
        "Stripe-Signature": header,
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    return Delivery("/webhooks/stripe", body, headers)

