"""`POST /webhooks/posthog`: PostHog's HTTP webhook destination, keyed by event uuid.

PostHog does not sign webhook bodies, so the destination is configured with a
header `Authorization: Bearer <POSTHOG_WEBHOOK_SECRET>` and that is what is
checked (in constant time). The body template is configurable in PostHog, so
every shape it can produce is accepted: the default `{event, person}`, a bare
event object, a list of either, or `{"batch": [...]}`.

A request lands all of its events or none (one transaction): a batch with one
bad event is refused whole, so PostHog's retry carries the whole batch again
rather than a half-landed one. The stored payload is the event object itself
(plus `person` when the delivery carried one), the same shape the query-API
backfill stores, so staging reads one shape; `$identify`'s
`properties.$anon_distinct_id` and `$create_alias`'s `properties.alias` are kept
as sent because they are the identity edges.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ingest_app import db
from ingest_app.errors import Rejected
from ingest_app.posthog_events import event_row, normalize_event
from ingest_app.validation import TOO_DEEP, check_fields, check_parsed, load_json
from ingest_app.webhooks import audit_headers, raw_body

log = logging.getLogger(__name__)
bp = Blueprint("posthog", __name__)
REQUIRED_SETTINGS = {"posthog_webhook_secret": "the ingest app authenticates PostHog webhooks with it"}


def _authorized(header: str, secret: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), secret.encode())


def split_items(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "batch" in payload:
        payload = payload["batch"]
        if not isinstance(payload, list):
            raise Rejected(400, "'batch' must be a list of events")
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise Rejected(400, "no events in the body")
    return items


@bp.post("/webhooks/posthog")
def receive():
    secret = current_app.config["GDP_SETTINGS"].posthog_webhook_secret
    if not _authorized(request.headers.get("Authorization", ""), secret):
        raise Rejected(401, "missing or wrong bearer token")
    body = raw_body()
    payload = load_json(body)
    items = split_items(payload)
    headers = audit_headers("User-Agent", "Content-Type")
    rows = []
    for index, item in enumerate(items):
        where = f"event {index}" if len(items) > 1 else "event"
        try:
            # `properties` may arrive as a JSON string: it is parsed here, so it meets the same limits.
            event = normalize_event(item)
            sent = (item.get("event") if isinstance(item.get("event"), dict) else item).get("properties")
            if isinstance(sent, str):
                check_parsed(sent.encode(), event["properties"])
            check_fields("posthog", event)
            rows.append(event_row(event, "webhook", headers))
        except ValueError as exc:
            raise Rejected(400, f"{where}: {exc}") from None
        except RecursionError:
            raise Rejected(400, f"{where}: properties: {TOO_DEEP}") from None
        except Rejected as exc:
            raise Rejected(400, f"{where}: {exc.reason}") from None
    # One statement per event, one transaction for the batch: all of its rows or none;
    # events naming a forgotten person are acknowledged but not stored.
    new = db.land("posthog_event", "uuid", rows)
    log.debug("posthog delivery events=%d new=%d", len(rows), new)
    # `duplicate` is true only when nothing was new, like the single-event endpoints.
    return jsonify(ok=True, duplicate=new == 0, received=len(rows), new=new, ids=[r["uuid"] for r in rows]), 200
