"""Meta Graph API: Conversions API events and Custom Audience membership.

Errors come as `{"error": {message, type, code, fbtrace_id}}`. Throttling codes
(4, 17, 32, 613, ...) and 5xx are retried; anything else is permanent.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from activation.http import ProviderError, RetryingClient
from gdp.http import parse_retry_after

EVENTS_LIMIT = 1_000
AUDIENCE_LIMIT = 10_000
AUDIENCE_SCHEMA = ["EMAIL", "PHONE", "EXTERN_ID"]
_THROTTLE_CODES = {1, 2, 4, 17, 32, 341, 613, 80003, 80004}


class MetaClient(RetryingClient):
    provider = "meta"

    def __init__(self, access_token: str, base_url: str = "https://graph.facebook.com", version: str = "v21.0", **kwargs):
        super().__init__(base_url, **kwargs)
        self._token = access_token
        self.version = version.strip("/")

    def error_from(self, response: httpx.Response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        message = str(error.get("message") or response.text[:200] or response.reason_phrase)
        name = f"{error.get('type', 'http')}#{code}" if code is not None else f"http_{response.status_code}"
        if error.get("fbtrace_id"):
            message = f"{message} (fbtrace_id {error['fbtrace_id']})"
        retryable = response.status_code == 429 or response.status_code >= 500 or code in _THROTTLE_CODES
        return ProviderError(
            self.provider, response.status_code, name, message, retryable,
            parse_retry_after(response.headers.get("retry-after")),
        )

    def send_events(self, pixel_id: str, events: list[dict[str, Any]], test_event_code: str | None = None) -> dict:
        if not 1 <= len(events) <= EVENTS_LIMIT:
            raise ValueError(f"a Conversions API request holds 1..{EVENTS_LIMIT} events, got {len(events)}")
        body: dict[str, Any] = {"data": events, "access_token": self._token}
        if test_event_code:
            body["test_event_code"] = test_event_code
        return self.request("POST", f"/{self.version}/{pixel_id}/events", json=body)

    def audience_users(self, audience_id: str, rows: list[list[str]], *, remove: bool = False) -> dict:
        """Add (POST) or remove (DELETE) hashed rows in AUDIENCE_SCHEMA order."""
        if not 1 <= len(rows) <= AUDIENCE_LIMIT:
            raise ValueError(f"an audience call holds 1..{AUDIENCE_LIMIT} rows, got {len(rows)}")
        params = {
            "access_token": self._token,
            "payload": json.dumps({"schema": AUDIENCE_SCHEMA, "data": rows}, separators=(",", ":")),
        }
        return self.request("DELETE" if remove else "POST", f"/{self.version}/{audience_id}/users", data=params)
