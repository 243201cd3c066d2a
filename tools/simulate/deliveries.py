"""Signed provider deliveries, built the way each provider builds them.

The simulator, `make demo`, the benchmarks and the tests all send webhooks
through the real HTTP endpoints; this module signs them with the providers'
real schemes (the official `svix` and `stripe` libraries), so what passes here
passes in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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


# --- PostHog, Cal.com, Calendly, deals API ------------------------------------
# Same idea: the request each provider (or an outbound tool) would send, with
# its real authentication, so the simulator and demo go through the endpoints.


def posthog_event(
    event: str,
    distinct_id: str,
    properties: dict[str, Any] | None = None,
    *,
    event_uuid: str | None = None,
    timestamp: datetime | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """One event as PostHog's webhook destination renders `{event}`."""
    timestamp = timestamp or datetime.now(timezone.utc)
    return {
        "uuid": event_uuid or str(uuid.uuid4()),
        "event": event,
        "distinct_id": distinct_id,
        "properties": properties or {},
        "timestamp": timestamp.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "url": url or "",
    }


def posthog_identify_event(person_id: str, anon_distinct_id: str, email: str | None = None, **kwargs) -> dict[str, Any]:
    """What `posthog.identify(personId, {email})` sends: the anonymous id ↔ person id edge."""
    properties: dict[str, Any] = {"$anon_distinct_id": anon_distinct_id}
    if email:
        properties["$set"] = {"email": email}
    return posthog_event("$identify", person_id, properties, **kwargs)


def posthog_delivery(
    events: dict[str, Any] | list[dict[str, Any]],
    secret: str,
    *,
    shape: str = "default",
    person: dict[str, Any] | None = None,
) -> Delivery:
    """A webhook-destination request.

    `shape`: `default` wraps each event as PostHog's default template `{event, person}`,
    `bare` sends the event object(s) as they are, `batch` sends `{"batch": [...]}`.
    A list of events is sent as a JSON list unless the shape is `batch`.
    """
    items = events if isinstance(events, list) else [events]
    if shape == "default":
        items = [{"event": e, "person": person or {"properties": {}}} for e in items]
    elif shape not in ("bare", "batch"):
        raise ValueError(f"unknown PostHog body shape {shape!r}")
    if shape == "batch":
        body: Any = {"batch": items}
    else:
        body = items if isinstance(events, list) else items[0]
    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/json",
        "User-Agent": "PostHog-Webhook/1.0",
    }
    return Delivery("/webhooks/posthog", encode(body), headers)


def _booking_id(uid: str) -> int:
    """Cal's numeric booking id, stable for a uid so a test can send the same booking twice."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:7], 16)


def cal_booking_payload(
    trigger: str,
    email: str,
    *,
    uid: str | None = None,
    start: datetime | None = None,
    created_at: datetime | None = None,
    no_show: bool = True,
    name: str = "",
    title: str = "Intro call",
) -> dict[str, Any]:
    """A Cal.com webhook body; BOOKING_NO_SHOW_UPDATED carries Cal's smaller no-show payload."""
    uid = uid or uuid.uuid4().hex[:22]
    start = start or datetime.now(timezone.utc)
    created_at = created_at or datetime.now(timezone.utc)
    iso = lambda d: d.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
    if trigger == "BOOKING_NO_SHOW_UPDATED":
        payload: dict[str, Any] = {
            "message": "Attendee no-show updated",
            "bookingUid": uid,
            "bookingId": _booking_id(uid),
            "attendees": [{"email": email, "noShow": no_show}],
        }
    else:
        payload = {
            "type": "intro-call",
            "title": title,
            "uid": uid,
            "bookingId": _booking_id(uid),
            "startTime": iso(start),
            "endTime": iso(start + timedelta(minutes=30)),
            "organizer": {"email": "founder@example.com", "name": "Founder", "timeZone": "UTC"},
            "attendees": [{"email": email, "name": name, "timeZone": "UTC"}],
            "status": "CANCELLED" if trigger == "BOOKING_CANCELLED" else "ACCEPTED",
        }
    return {"triggerEvent": trigger, "createdAt": iso(created_at), "payload": payload}


def cal_delivery(payload: dict[str, Any], secret: str) -> Delivery:
    body = encode(payload)
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Cal-Signature-256": signature, "Content-Type": "application/json", "User-Agent": "Cal.com"}
    return Delivery("/webhooks/cal", body, headers)


def calendly_invitee_payload(
    event: str,
    email: str,
    *,
    invitee_uri: str | None = None,
    created_at: datetime | None = None,
    name: str = "",
) -> dict[str, Any]:
    """A Calendly webhook body; for invitee_no_show.created the payload is the no-show resource."""
    invitee_uri = invitee_uri or (
        f"https://api.calendly.com/scheduled_events/{uuid.uuid4().hex}/invitees/{uuid.uuid4().hex}"
    )
    created_at = created_at or datetime.now(timezone.utc)
    iso = created_at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if event == "invitee_no_show.created":
        payload: dict[str, Any] = {
            "uri": f"https://api.calendly.com/invitee_no_shows/{uuid.uuid4().hex}",
            "invitee": invitee_uri,
            "email": email,
            "created_at": iso,
        }
    else:
        payload = {
            "uri": invitee_uri,
            "email": email,
            "name": name,
            "status": "canceled" if event == "invitee.canceled" else "active",
            "event": invitee_uri.split("/invitees/")[0],
            "created_at": iso,
            "updated_at": iso,
            "rescheduled": False,
        }
    return {"event": event, "created_at": iso, "created_by": "https://api.calendly.com/users/founder", "payload": payload}


def calendly_delivery(payload: dict[str, Any], signing_key: str, *, signed_at: int | None = None) -> Delivery:
    body = encode(payload)
    timestamp = signed_at if signed_at is not None else int(time.time())
    signature = hmac.new(signing_key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Calendly-Webhook-Signature": f"t={timestamp},v1={signature}",
        "Content-Type": "application/json",
        "User-Agent": "Calendly-Webhooks",
    }
    return Delivery("/webhooks/calendly", body, headers)


def deal_event_request(body: dict[str, Any], api_token: str) -> Delivery:
    """What an outbound tool or CRM sends to record a pipeline move."""
    headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    return Delivery("/api/deals/events", encode(body), headers)
