"""One PostHog event, one `raw.posthog_event` row, whichever way it arrived.

The webhook destination and the query-API backfill both go through
`normalize_event` and `event_row` (and land through ingest_app/landing.py), so staging reads one payload shape: the
event object `{uuid, event, distinct_id, properties, timestamp, ...}` with
`properties` always a JSON object (HogQL answers send it as a string) and
`person` added when a webhook delivery carried one. Identity edges are left
exactly where PostHog puts them: `$identify` keeps
`properties.$anon_distinct_id`, `$create_alias` keeps `properties.alias`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """PostHog's ISO timestamps (`Z`, an offset, or none = UTC); None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("timestamp must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"timestamp {value!r} is not ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def normalize_event(item: Any) -> dict[str, Any]:
    """A delivered item (default `{event, person}` template or a bare event) to the stored shape.

    Raises `ValueError` with the reason a delivery is refused.
    """
    if not isinstance(item, dict):
        raise ValueError("must be a JSON object")
    person = None
    if isinstance(item.get("event"), dict):
        person = item.get("person")
        item = item["event"]
    event = dict(item)
    if event.get("uuid") in (None, ""):
        raise ValueError("missing field 'uuid'")
    if not isinstance(event.get("event"), str) or not event["event"]:
        raise ValueError("missing field 'event'")
    properties = event.get("properties")
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            raise ValueError("properties is not valid JSON") from None
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("properties must be an object")
    event["uuid"] = str(event["uuid"])
    event["properties"] = properties
    if event.get("distinct_id") is not None:
        event["distinct_id"] = str(event["distinct_id"])
    parse_timestamp(event.get("timestamp"))
    if person is not None:
        event["person"] = person
    return event


def event_row(event: dict[str, Any], via: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The raw row. `occurred_at` is the sender's claim (anyone with the public project key sets
    it), so it is never later than now: a stamp from the future cannot move a person's last sighting."""
    occurred_at = parse_timestamp(event.get("timestamp"))
    now = datetime.now(timezone.utc)
    return {
        "uuid": event["uuid"],
        "event_name": event["event"],
        "distinct_id": event.get("distinct_id"),
        "occurred_at": min(occurred_at, now) if occurred_at else None,
        "via": via,
        "headers": headers or {},
        "payload": event,
    }
