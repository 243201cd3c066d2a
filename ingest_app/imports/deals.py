"""The sales pipeline's stages and the one validation every deal move goes through.

`POST /api/deals/events` and `gdp deal move` both build their row here, so a
stage or an email the API refuses is refused by the CLI with the same words,
and `raw.deal_event` holds one shape whichever way a move arrived.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

import psycopg

from ingest_app.landing import Landed, land

# Order is the funnel's: staging and marts may rely on it for "furthest stage".
STAGES: tuple[str, ...] = (
    "lead",
    "contacted",
    "replied_positive",
    "replied_negative",
    "booked",
    "no_show",
    "proposal_sent",
    "won",
    "lost",
)

# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 would
# accept addresses no mail server delivers to; deliverability is Resend's call.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_TEXT = 10_000
MAX_EVENT_ID = 200


class InvalidInput(ValueError):
    """Input a person must fix; the message is the one-line reason."""


def normalize_email(value: Any) -> str:
    """Trim and lowercase; refuse what is not an address."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("email is required")
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"email {value.strip()!r} is not a valid address")
    return email


def validate_stage(value: Any) -> str:
    if value in (None, ""):
        raise InvalidInput(f"stage is required, one of: {', '.join(STAGES)}")
    stage = value.strip().lower() if isinstance(value, str) else value
    if stage not in STAGES:
        raise InvalidInput(f"stage {value!r} is not one of: {', '.join(STAGES)}")
    return stage


def parse_timestamp(value: Any, name: str) -> datetime:
    """ISO 8601 to an aware UTC datetime; a value without offset is taken as UTC."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def build_deal_row(body: dict[str, Any], *, via: str) -> dict[str, Any]:
    """The `raw.deal_event` row for one move; raises `InvalidInput` with the reason."""
    email = normalize_email(body.get("email"))
    stage = validate_stage(body.get("stage"))
    event_id = body.get("event_id")
    if event_id is None or event_id == "":
        # No client id: the move is still stored once, but a retry cannot be recognized.
        event_id = str(uuid.uuid4())
    elif not isinstance(event_id, str) or len(event_id) > MAX_EVENT_ID:
        raise InvalidInput(f"event_id must be a string of at most {MAX_EVENT_ID} characters")
    row: dict[str, Any] = {
        "deal_event_id": event_id,
        "email": email,
        "stage": stage,
        "note": _optional_text(body, "note"),
        "objection": _optional_text(body, "objection"),
        "owner": _optional_text(body, "owner"),
        "via": via,
        "payload": body,
    }
    if body.get("occurred_at") not in (None, ""):
        row["occurred_at"] = parse_timestamp(body["occurred_at"], "occurred_at")
    return row


def land_move(conn: psycopg.Connection, row: dict[str, Any]) -> Landed:
    """Land one move (`gdp deal move`) through the shared landing: new, a repeated event id, or a forgotten person."""
    return land(conn, "deal_event", "deal_event_id", row)
