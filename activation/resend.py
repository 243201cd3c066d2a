"""Resend's send API: `POST /emails` and `POST /emails/batch` (≤ 100), Bearer auth.

The `Idempotency-Key` header makes a repeated call return the first call's ids
without sending again (Resend keeps keys 24 h), which is what lets the outbox
retry after a crash without a second email.
"""

from __future__ import annotations

from typing import Any

import httpx

from activation.http import ProviderError, RetryingClient
from gdp.http import parse_retry_after

BATCH_LIMIT = 100
# Resend's 409s: a concurrent request with the same key is worth retrying; the same key
# with a different body is not.
_RETRYABLE_NAMES = {"concurrent_idempotent_requests", "rate_limit_exceeded", "internal_server_error"}


class ResendClient(RetryingClient):
    provider = "resend"

    def __init__(self, api_key: str, base_url: str = "https://api.resend.com", **kwargs):
        super().__init__(base_url, **kwargs)
        self._api_key = api_key

    def error_from(self, response: httpx.Response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        name = str(body.get("name") or f"http_{response.status_code}")
        message = str(body.get("message") or response.text[:200] or response.reason_phrase)
        retryable = response.status_code == 429 or response.status_code >= 500 or name in _RETRYABLE_NAMES
        return ProviderError(
            self.provider, response.status_code, name, message, retryable,
            parse_retry_after(response.headers.get("retry-after")),
        )

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key[:256],
            "User-Agent": "gdp-activation/0.1",
        }

    def send(self, email: dict[str, Any], idempotency_key: str) -> str:
        body = self.request("POST", "/emails", json=email, headers=self._headers(idempotency_key))
        if not body.get("id"):
            raise ProviderError(self.provider, 200, "malformed_response", "answer has no id", True)
        return str(body["id"])

    def send_batch(self, emails: list[dict[str, Any]], idempotency_key: str) -> list[str]:
        if not 1 <= len(emails) <= BATCH_LIMIT:
            raise ValueError(f"a Resend batch holds 1..{BATCH_LIMIT} emails, got {len(emails)}")
        body = self.request("POST", "/emails/batch", json=emails, headers=self._headers(idempotency_key))
        data = body.get("data")
        if not isinstance(data, list) or len(data) != len(emails) or not all(isinstance(d, dict) and d.get("id") for d in data):
            raise ProviderError(self.provider, 200, "malformed_response", "batch answer does not list one id per email", True)
        return [str(d["id"]) for d in data]
