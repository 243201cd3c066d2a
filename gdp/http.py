"""HTTP plumbing every provider client shares, whichever layer calls out (ingest's backfill, activation)."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `retry-after` header: seconds or an HTTP date; anything else is ignored."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
