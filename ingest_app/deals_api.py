"""`POST /api/deals/events`: sales pipeline moves from an outbound tool or CRM.

Authenticated by `Authorization: Bearer <GDP_API_TOKEN>` (constant-time compare).
The row is built by `ingest_app.imports.deals.build_deal_row`, the same function
`gdp deal move` uses. A client that sends its own `event_id` can retry freely:
the retry is recognized and adds nothing. Without one a uuid is generated, so
each call is one move.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, current_app, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.imports.deals import InvalidInput, build_deal_row
from ingest_app.validation import check_fields
from ingest_app.webhooks import parse_json_object, raw_body, stored_response

log = logging.getLogger(__name__)
bp = Blueprint("deals_api", __name__)
REQUIRED_SETTINGS = {"api_token": "the deals API (/api/deals/events) authenticates callers with it"}


def require_api_token() -> None:
    token = current_app.config["GDP_SETTINGS"].api_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Rejected(401, "missing or wrong bearer token")


@bp.post("/api/deals/events")
def receive():
    require_api_token()
    body = parse_json_object(raw_body())
    try:
        row = build_deal_row(body, via="api")
    except InvalidInput as exc:
        raise Rejected(400, str(exc)) from None
    check_fields("deals", body)
    new = db.land("deal_event", "deal_event_id", row)
    log.debug("deal event %s stage=%s duplicate=%s", row["deal_event_id"], row["stage"], not new)
    return stored_response(new, row["deal_event_id"])
