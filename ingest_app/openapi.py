"""`GET /openapi.json`: what the ingest app accepts, for providers' set-up screens and the fuzz suite.

The description is written here by hand (the app has no schema framework to derive it
from) and kept true by tests/ingest/test_openapi_fuzz.py, which compares its paths and
methods with the routes Flask registered and fuzzes every operation with schemathesis.
Request bodies describe what a *valid* delivery looks like; signatures and tokens are
security schemes, so a fuzzer without them must be refused (400/401), never served.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "One-line reason, for the provider's delivery log."}},
}
_STORED = {
    "type": "object",
    "required": ["ok", "duplicate"],
    "properties": {
        "ok": {"type": "boolean"},
        "duplicate": {"type": "boolean", "description": "True for a redelivery (or a delivery about a forgotten person)."},
        "id": {"type": "string"},
    },
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait before retrying."}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str, headers: dict | None = None) -> dict[str, Any]:
    answer = {"description": description, **_json({"$ref": "#/components/schemas/Error"})}
    if headers:
        answer["headers"] = headers
    return answer


def _delivery_responses(*, auth_status: tuple[int, ...] = (400, 401)) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "Stored (or already stored: a redelivery changes nothing).",
                **_json({"$ref": "#/components/schemas/Stored"})},
        "400": _error("Malformed delivery, missing signature header, JSON nested deeper than 64 levels or holding "
                      "a lone surrogate escape, or a field staging casts (a date, number or boolean) of the wrong "
                      "type, named in the reason; nothing stored."),
        "413": _error("Body larger than GDP_MAX_BODY_BYTES."),
        "503": _error("Database unavailable; retry later. Nothing stored.", _RETRY_AFTER),
    }
    if 401 in auth_status:
        responses["401"] = _error("Signature or token did not verify; nothing stored.")
    return responses


def _header(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": {"type": "string"}}


def _webhook(summary: str, body: dict[str, Any], headers: list[dict[str, Any]], security=None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": headers,
        "requestBody": {"required": True, **_json(body)},
        "responses": _delivery_responses(),
    }
    if security is not None:
        operation["security"] = security
    return {"post": operation}


_RESEND_BODY = {
    "type": "object",
    "required": ["type", "created_at", "data"],
    "properties": {
        "type": {"type": "string", "examples": ["email.delivered"]},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "properties": {"email_id": {"type": "string"}, "to": {"type": "array", "items": {"type": "string"}},
                                                    "tags": {}}},
    },
}
_STRIPE_BODY = {
    "type": "object",
    "required": ["id", "type", "created", "data"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "created": {"type": "integer"},
        "livemode": {"type": "boolean"},
        "data": {"type": "object", "properties": {"object": {"type": "object"}}},
    },
}
_POSTHOG_EVENT = {
    "type": "object",
    "required": ["uuid", "event", "distinct_id"],
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "event": {"type": "string"},
        "distinct_id": {"type": "string"},
        "properties": {"type": "object"},
        "timestamp": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
    },
}
_POSTHOG_BODY = {
    "description": "PostHog's default template {event, person}, a bare event, a list of either, or {batch: [...]}.",
    "oneOf": [
        {"type": "object", "required": ["event"], "properties": {"event": _POSTHOG_EVENT, "person": {"type": "object"}}},
        _POSTHOG_EVENT,
        {"type": "array", "items": _POSTHOG_EVENT, "minItems": 1},
        {"type": "object", "required": ["batch"], "properties": {"batch": {"type": "array", "items": _POSTHOG_EVENT}}},
    ],
}
_CAL_BODY = {
    "type": "object",
    "required": ["triggerEvent", "createdAt", "payload"],
    "properties": {
        "triggerEvent": {"type": "string", "enum": ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED",
                                                      "MEETING_ENDED", "BOOKING_NO_SHOW_UPDATED"]},
        "createdAt": {"type": "string", "format": "date-time"},
        "payload": {"type": "object", "properties": {"uid": {"type": "string"}, "attendees": {"type": "array"}}},
    },
}
_CALENDLY_BODY = {
    "type": "object",
    "required": ["event", "created_at", "payload"],
    "properties": {
        "event": {"type": "string", "enum": ["invitee.created", "invitee.canceled", "invitee_no_show.created"]},
        "created_at": {"type": "string", "format": "date-time"},
        "payload": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}, "email": {"type": "string"}}},
    },
}
_DEAL_BODY = {
    "type": "object",
    "required": ["email", "stage"],
    "properties": {
        "event_id": {"type": "string", "description": "Client's own id; a retry with the same id adds nothing."},
        "email": {"type": "string", "format": "email"},
        "stage": {"type": "string"},
        "note": {"type": "string"},
        "objection": {"type": "string"},
        "owner": {"type": "string"},
        "occurred_at": {"type": "string", "format": "date-time"},
    },
}
_CAPI_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event_id", "event_name", "event_source_url"],
    "properties": {
        "event_id": {"type": "string", "format": "uuid", "description": "The Pixel's eventID (crypto.randomUUID())."},
        "event_name": {"type": "string", "description": "A Meta standard event or NewsletterSignup, AppSignup, CallBooked.",
                       "enum": ["Lead", "Purchase", "Schedule", "CompleteRegistration", "Subscribe", "StartTrial",
                                "InitiateCheckout", "ViewContent", "NewsletterSignup", "AppSignup", "CallBooked"]},
        "event_source_url": {"type": "string", "format": "uri", "maxLength": 2048},
        "custom_data": {"type": "object", "maxProperties": 50,
                        "properties": {"currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                                       "value": {"type": "number", "minimum": 0}}},
        "fbp": {"type": "string", "pattern": r"^fb\.[0-9]\.[0-9]{10,13}\.[A-Za-z0-9_.-]{1,500}$"},
        "fbc": {"type": "string", "pattern": r"^fb\.[0-9]\.[0-9]{10,13}\.[A-Za-z0-9_.-]{1,500}$"},
    },
}
_IDENTIFY_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["distinct_id"],
    "properties": {
        "person_id": {"type": "string", "maxLength": 200},
        "email": {"type": "string", "format": "email", "maxLength": 320},
        "distinct_id": {"type": "string", "maxLength": 200},
        "app_user_id": {"type": "string", "maxLength": 200},
    },
}
_CORS_PREFLIGHT = {
    "summary": "CORS preflight: answered for origins in GDP_ALLOWED_ORIGINS, 403 otherwise.",
    "parameters": [_header("Origin", "The calling page's origin.", required=False)],
    "responses": {"204": {"description": "Allowed origin."}, "403": _error("Origin not allowed.")},
}
_RATE_LIMITED = _error("Per-IP rate limit exceeded (see GDP_RATE_LIMIT_*); nothing stored.", _RETRY_AFTER)
_REDIRECT = {"description": "Redirect to the link's destination (or APP_BASE_URL for an invalid token).",
             "headers": {"Location": {"schema": {"type": "string"}}}}


def _click_operation() -> dict[str, Any]:
    return {"summary": "Tracked link: lands a raw.click row for a valid token, then redirects.",
            "responses": {"302": _REDIRECT, "429": _RATE_LIMITED,
                          "404": _error("A path no route matches (e.g. a token with a line break).")}}


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Growth Data Plane ingest app",
        "version": "1",
        "description": "Provider webhooks, tracked links and the browser endpoints. Everything lands raw in Postgres; "
                       "a 2xx answer means the row is committed.",
    },
    "paths": {
        "/healthz": {"get": {"summary": "Database reachable?", "responses": {
            "200": {"description": "ok", **_json({"type": "object", "properties": {"status": {"type": "string"}}})},
            "503": {"description": "database unavailable", **_json({"type": "object", "properties": {"status": {"type": "string"}}})},
        }}},
        "/openapi.json": {"get": {"summary": "This description.", "responses": {"200": {"description": "OpenAPI 3 document.",
                                                                                     **_json({"type": "object"})}}}},
        "/webhooks/resend": _webhook(
            "Resend events, Svix-signed; key svix-id.", _RESEND_BODY,
            [_header("svix-id", "Delivery id, stable across retries."), _header("svix-timestamp", "Unix seconds."),
             _header("svix-signature", "Space-separated v1,<base64> signatures.")],
        ),
        "/webhooks/stripe": _webhook(
            "Stripe events; key event id.", _STRIPE_BODY, [_header("Stripe-Signature", "t=<unix>,v1=<hex>")],
        ),
        "/webhooks/posthog": _webhook(
            "PostHog webhook destination; key event uuid; a batch lands whole or not at all.", _POSTHOG_BODY, [],
            security=[{"posthogSecret": []}],
        ),
        "/webhooks/cal": _webhook(
            "Cal.com bookings.", _CAL_BODY, [_header("X-Cal-Signature-256", "Hex HMAC-SHA256 of the body.")],
        ),
        "/webhooks/calendly": _webhook(
            "Calendly invitee events.", _CALENDLY_BODY, [_header("Calendly-Webhook-Signature", "t=<unix>,v1=<hex>")],
        ),
        "/api/deals/events": _webhook("Sales pipeline moves from outbound tools and CRMs.", _DEAL_BODY, [],
                                      security=[{"apiToken": []}]),
        "/c/": {"get": {**_click_operation(), "summary": "A cut tracked link: redirects to APP_BASE_URL."},
                "head": {**_click_operation(), "summary": "Prefetch of a cut tracked link."}},
        "/c/{token}": {
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "Signed token from `gdp link` / activation."}],
            "get": _click_operation(),
            "head": {**_click_operation(), "summary": "Prefetch (mail scanners): recorded with is_bot."},
        },
        "/gdp.js": {"get": {"summary": "The browser snippet.", "responses": {
            "200": {"description": "JavaScript.", "content": {"text/javascript": {"schema": {"type": "string"}}}},
            "429": _RATE_LIMITED,
        }}},
        "/static/{filename}": {"get": {
            "summary": "Flask's static folder (the snippet's source file).",
            "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "File.", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                          "404": _error("No such file.")},
        }},
        "/unsubscribe": {
            "parameters": [
                {"name": "p", "in": "query", "required": True, "schema": {"type": "string"}, "description": "person_id"},
                {"name": "c", "in": "query", "required": True, "schema": {"type": "string"}, "description": "campaign_id"},
                {"name": "t", "in": "query", "required": True, "schema": {"type": "string"},
                 "description": "MAC over (p, c) with TRACKING_LINK_SECRET."},
            ],
            "get": {"summary": "Confirmation page with one button (a GET never unsubscribes: scanners prefetch).",
                    "responses": {"200": {"description": "Page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                                  "400": {"description": "Link incomplete or altered.",
                                          "content": {"text/html": {"schema": {"type": "string"}}}}}},
            "post": {"summary": "Unsubscribe (the page's button, or RFC 8058 one-click `List-Unsubscribe=One-Click`).",
                     "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {
                         "schema": {"type": "object", "properties": {"List-Unsubscribe": {"type": "string"}}}}}},
                     "responses": {"200": {"description": "Recorded (or already recorded).",
                                           "content": {"text/html": {"schema": {"type": "string"}}}},
                                   "400": _error("Link incomplete or altered; nothing stored."),
                                   "503": _error("Database unavailable; retry.")}},
        },
        "/api/meta/capi": {
            "post": {
                "summary": "Meta Conversions API relay: the Pixel's event, landed for server-side delivery.",
                "parameters": [_header("Origin", "Same origin or GDP_ALLOWED_ORIGINS; absent for server relays.", required=False)],
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/CapiEvent"})},
                "responses": {**_delivery_responses(auth_status=()), "403": _error("Origin not allowed."),
                              "429": _RATE_LIMITED},
            },
            "options": _CORS_PREFLIGHT,
        },
        "/api/identify": {
            "post": {
                "summary": "Person ↔ PostHog distinct_id / app user; API token, or the gdp_pid cookie from a page.",
                "parameters": [_header("Origin", "Needed with the cookie.", required=False)],
                "security": [{"apiToken": []}, {"personCookie": []}],
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/Identify"})},
                "responses": {**_delivery_responses(), "403": _error("Origin not allowed, or cookie caller reported an email."),
                              "429": _RATE_LIMITED},
            },
            "options": _CORS_PREFLIGHT,
        },
    },
    "components": {
        "schemas": {"Error": _ERROR, "Stored": _STORED, "CapiEvent": _CAPI_BODY, "Identify": _IDENTIFY_BODY},
        "securitySchemes": {
            "apiToken": {"type": "http", "scheme": "bearer", "description": "GDP_API_TOKEN"},
            "posthogSecret": {"type": "http", "scheme": "bearer", "description": "POSTHOG_WEBHOOK_SECRET"},
            "personCookie": {"type": "apiKey", "in": "cookie", "name": "gdp_pid"},
        },
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
