"""What browsers and the app call: `GET /gdp.js`, `POST /api/meta/capi`, `POST /api/identify`.

`/api/meta/capi` lands a conversion the page also sent to the Pixel with the same
`event_id`, so Meta can deduplicate the pair; it adds the client IP and user agent,
takes the person from the `gdp_pid` cookie (only when its MAC verifies) and lands
`raw.meta_capi_event` keyed by event_id, so a retried POST adds nothing. Nothing
calls Meta here: activation delivers the rows.

`/api/identify` records that a person (by person_id or email) is a PostHog
distinct_id and optionally an app user. Two ways to be allowed:
- `Authorization: Bearer <GDP_API_TOKEN>` (the app's backend): any of the fields.
- the `gdp_pid` cookie, from a page of an allowed origin (browser, credentials
  included): only the cookie's own person_id; an email is refused, because a
  visitor must not be able to tie someone else's address to their own browser.
The key is a SHA-256 of the reported identifiers, so a repeat adds nothing.

Origin policy (CORS) for both endpoints: a request whose `Origin` is this app's
own origin, or one listed in GDP_ALLOWED_ORIGINS (comma-separated), is served;
cross-origin allowed ones get `Access-Control-Allow-Origin: <origin>` with
`Access-Control-Allow-Credentials: true` (so the cookie travels) and preflights
are answered for POST with `Content-Type`. Any other Origin gets 403, nothing
stored. A request without `Origin` is not a browser's cross-site request: it is
served for CAPI (server-side relays) and for identify only with the API token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request, send_from_directory

from gdp.links import PERSON_COOKIE, InvalidLink, check_destination, read_person_cookie
from gdp.settings import Settings
from ingest_app import db
from ingest_app.clicks import client_ip, header_value, request_origin
from ingest_app.errors import Rejected
from ingest_app.validation import check_fields
from ingest_app.webhooks import parse_json_object, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("browser_api", __name__)
REQUIRED_SETTINGS = {
    "api_token": "/api/identify accepts the app's calls with it",
    "tracking_link_secret": "the person cookie read by /api/meta/capi and /api/identify is verified with it",
}
STATIC_DIR = Path(__file__).resolve().parent / "static"

# Meta's standard events (the Pixel's `fbq('track', ...)` names).
STANDARD_EVENTS = frozenset(
    {
        "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact", "CustomizeProduct",
        "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView", "Purchase", "Schedule", "Search",
        "StartTrial", "SubmitApplication", "Subscribe", "ViewContent",
    }
)
# This project's custom events (`fbq('trackCustom', ...)`): newsletter sign-up, app sign-up, booked call.
CUSTOM_EVENTS = frozenset({"NewsletterSignup", "AppSignup", "CallBooked"})
CAPI_FIELDS = frozenset({"event_id", "event_name", "event_source_url", "custom_data", "fbp", "fbc"})
IDENTIFY_FIELDS = frozenset({"person_id", "email", "distinct_id", "app_user_id"})
MAX_BROWSER_BODY_BYTES = 16 * 1024
MAX_CUSTOM_DATA_BYTES = 4096
MAX_CUSTOM_DATA_KEYS = 50
MAX_URL_CHARS = 2048
MAX_ID_CHARS = 200
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
_FB_COOKIE = re.compile(r"^fb\.[0-9]\.[0-9]{10,13}\.[A-Za-z0-9_.-]{1,500}$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _settings() -> Settings:
    return current_app.config["GDP_SETTINGS"]


# --- origin policy ------------------------------------------------------------


def allowed_origins(settings: Settings) -> set[str]:
    return {o.strip().rstrip("/").lower() for o in (settings.allowed_origins or "").split(",") if o.strip()}


def _origin() -> str | None:
    value = request.headers.get("Origin")
    return value.strip().rstrip("/").lower() if value else None


def _cross_origin_allowed(settings: Settings, origin: str) -> bool:
    return origin in allowed_origins(settings)


def check_origin(settings: Settings) -> str | None:
    """The caller's Origin when it may call; 403 when a browser page of another origin calls."""
    origin = _origin()
    if origin is None or origin == request_origin(settings) or _cross_origin_allowed(settings, origin):
        return origin
    raise Rejected(403, f"origin {origin} is not allowed (same-origin or GDP_ALLOWED_ORIGINS)")


def _with_cors(response: Response, settings: Settings) -> Response:
    origin = _origin()
    response.headers.add("Vary", "Origin")
    if origin and origin != request_origin(settings) and _cross_origin_allowed(settings, origin):
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"].strip().rstrip("/")
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


@bp.after_request
def _cors_headers(response: Response) -> Response:
    """Also on error answers, so an allowed page can read why it was refused."""
    if request.path.startswith("/api/"):
        _with_cors(response, _settings())
    return response


def _preflight() -> Response:
    settings = _settings()
    origin = _origin()
    if not origin or not _cross_origin_allowed(settings, origin):
        raise Rejected(403, f"origin {origin} is not allowed (same-origin or GDP_ALLOWED_ORIGINS)")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _json_body(allowed_fields: frozenset[str]) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_BROWSER_BODY_BYTES:
        raise Rejected(413, f"body larger than {MAX_BROWSER_BODY_BYTES} bytes")
    body = request.get_data(cache=True)
    if len(body) > MAX_BROWSER_BODY_BYTES:
        raise Rejected(413, f"body larger than {MAX_BROWSER_BODY_BYTES} bytes")
    payload = parse_json_object(body)
    unknown = sorted(set(payload) - allowed_fields)
    if unknown:
        raise Rejected(400, f"unknown field {unknown[0]!r}")
    return {k: v for k, v in payload.items() if v not in (None, "")}


def _string(payload: dict, name: str, max_chars: int, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise Rejected(400, f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise Rejected(400, f"{name} must be a string")
    value = value.strip()
    if not value or len(value) > max_chars:
        raise Rejected(400, f"{name} must be 1 to {max_chars} characters")
    return value


# --- gdp.js ------------------------------------------------------------------


@bp.get("/gdp.js")
def snippet():
    response = send_from_directory(STATIC_DIR, "gdp.js", mimetype="text/javascript", max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- Meta CAPI relay ---------------------------------------------------------


def validate_capi(payload: dict[str, Any]) -> dict[str, Any]:
    """The event as landed, or `Rejected(400, reason)` naming the first problem."""
    event_id = _string(payload, "event_id", 36, required=True)
    if not _UUID.match(event_id):
        raise Rejected(400, "event_id must be a UUID (crypto.randomUUID())")
    event_id = event_id.lower()  # the form Checkout metadata and the server-side event compare with
    event_name = _string(payload, "event_name", 50, required=True)
    if event_name not in STANDARD_EVENTS | CUSTOM_EVENTS:
        raise Rejected(400, f"event_name {event_name!r} is not a Meta standard event or a documented custom one")
    source_url = _string(payload, "event_source_url", MAX_URL_CHARS, required=True)
    try:
        check_destination(source_url)
    except InvalidLink:
        raise Rejected(400, "event_source_url must be an http(s) URL") from None
    custom_data = payload.get("custom_data", {})
    if not isinstance(custom_data, dict):
        raise Rejected(400, "custom_data must be an object")
    if len(custom_data) > MAX_CUSTOM_DATA_KEYS or len(json.dumps(custom_data)) > MAX_CUSTOM_DATA_BYTES:
        raise Rejected(400, f"custom_data must have at most {MAX_CUSTOM_DATA_KEYS} keys and {MAX_CUSTOM_DATA_BYTES} bytes")
    if "value" in custom_data:
        value = custom_data["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise Rejected(400, "custom_data.value must be a number >= 0")
    if "currency" in custom_data and not (
        isinstance(custom_data["currency"], str) and _CURRENCY.match(custom_data["currency"])
    ):
        raise Rejected(400, "custom_data.currency must be a 3-letter ISO 4217 code")
    cookies = {}
    for name in ("fbp", "fbc"):
        value = _string(payload, name, 600)
        if value is not None and not _FB_COOKIE.match(value):
            raise Rejected(400, f"{name} must look like fb.1.<milliseconds>.<id>")
        cookies[name] = value
    check_fields("capi", payload)
    return {
        "event_id": event_id,
        "event_name": event_name,
        "event_source_url": source_url,
        "custom_data": custom_data,
        **cookies,
    }


@bp.route("/api/meta/capi", methods=["OPTIONS"])
def capi_preflight():
    return _preflight()


@bp.post("/api/meta/capi")
def capi():
    settings = _settings()
    check_origin(settings)
    event = validate_capi(_json_body(CAPI_FIELDS))
    person_id = read_person_cookie(settings.tracking_link_secret, request.cookies.get(PERSON_COOKIE))
    new = db.land(
        "meta_capi_event",
        "event_id",
        {
            "event_id": event["event_id"],
            "event_name": event["event_name"],
            "event_time": datetime.now(timezone.utc),
            "event_source_url": event["event_source_url"],
            "action_source": "website",
            "person_id": person_id,
            "fbp": event["fbp"],
            "fbc": event["fbc"],
            "client_ip": client_ip(settings),
            "client_user_agent": header_value("User-Agent"),
            "custom_data": event["custom_data"],
            "payload": {k: v for k, v in event.items() if v is not None},
        },
    )
    log.debug("capi event %s name=%s person=%s duplicate=%s", event["event_id"], event["event_name"], bool(person_id), not new)
    return stored_response(new, event["event_id"])


# --- identify ----------------------------------------------------------------


def _authenticate(settings: Settings) -> tuple[str, str | None]:
    """('token', None) or ('cookie', person_id); 401/403 otherwise."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.api_token.encode()
        ):
            raise Rejected(401, "invalid API token")
        return "token", None
    person_id = read_person_cookie(settings.tracking_link_secret, request.cookies.get(PERSON_COOKIE))
    if person_id is None:
        raise Rejected(401, f"send Authorization: Bearer <GDP_API_TOKEN>, or call from a page with the {PERSON_COOKIE} cookie")
    if _origin() is None:
        raise Rejected(403, "a cookie-authenticated identify must come from a browser page (Origin header)")
    return "cookie", person_id


def identify_key(person_id: str | None, email: str | None, distinct_id: str, app_user_id: str | None,
                 auth: str = "token") -> str:
    """Idempotency key of a report. A cookie call keys apart from a token call with the same fields,
    so a browser's claim landing first never stands in for the app's verified report (identity
    treats them differently: int_identity__edges_app)."""
    fields = [person_id, email, distinct_id, app_user_id] + ([auth] if auth != "token" else [])
    canonical = json.dumps(fields, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@bp.route("/api/identify", methods=["OPTIONS"])
def identify_preflight():
    return _preflight()


@bp.post("/api/identify")
def identify():
    settings = _settings()
    check_origin(settings)
    auth, cookie_person_id = _authenticate(settings)
    payload = _json_body(IDENTIFY_FIELDS)
    person_id = _string(payload, "person_id", MAX_ID_CHARS)
    email = _string(payload, "email", 320)
    distinct_id = _string(payload, "distinct_id", MAX_ID_CHARS, required=True)
    app_user_id = _string(payload, "app_user_id", MAX_ID_CHARS)
    if email is not None:
        email = email.lower()
        if not _EMAIL.match(email):
            raise Rejected(400, "email is not an email address")
    if auth == "cookie":
        if email is not None:
            raise Rejected(403, "email may only be reported with the API token")
        if person_id is not None and person_id != cookie_person_id:
            raise Rejected(403, "person_id differs from the person cookie")
        person_id = cookie_person_id
    if person_id is None and email is None:
        raise Rejected(400, "one of person_id or email is required")
    key = identify_key(person_id, email, distinct_id, app_user_id, auth)
    new = db.land(
        "identify_call",
        "identify_id",
        {
            "identify_id": key,
            "person_id": person_id,
            "email": email,
            "distinct_id": distinct_id,
            "app_user_id": app_user_id,
            "payload": {
                "person_id": person_id,
                "email": email,
                "distinct_id": distinct_id,
                "app_user_id": app_user_id,
                "auth": auth,
            },
        },
    )
    log.debug("identify %s auth=%s duplicate=%s", key[:12], auth, not new)
    return stored_response(new, key)
