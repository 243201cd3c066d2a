"""A local stand-in for Resend's send API, speaking its wire format over real HTTP.

`POST /emails` answers `{"id": ...}`, `POST /emails/batch` (≤ 100) answers
`{"data": [{"id": ...}, ...]}`; errors are `{statusCode, name, message}`. It
checks what Resend checks: `Authorization: Bearer <key>`, JSON body, required
fields, tag names/values (ASCII letters, digits, `_`, `-`, ≤ 256), and the
`Idempotency-Key` (≤ 256 chars): the same key with the same body answers the
first answer again without sending, the same key with another body is a 409.

Every request is recorded raw (`requests`); every email actually accepted is
recorded once in `delivered` with its `X-Entity-Ref-ID` header, so tests can
count deliveries per outbox key after deduplication. Cues make the next
requests answer 429 (with `retry-after`), 5xx, 400 or a body that is not JSON;
`rate_limit_per_s` enforces a rolling per-second limit like Resend's default 2.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections import Counter
from typing import Any

from tests.fakes.base import FakeServer

TAG_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def error_body(status: int, name: str, message: str) -> bytes:
    return json.dumps({"statusCode": status, "name": name, "message": message}).encode()


class FakeResend(FakeServer):
    def __init__(self, api_key: str = "re_test_key", rate_limit_per_s: float | None = None, latency_s: float = 0.0):
        self.api_key = api_key
        self.rate_limit_per_s = rate_limit_per_s
        self.latency_s = latency_s
        self.delivered: list[dict[str, Any]] = []
        self.idempotent_replays = 0
        self._idempotency: dict[str, tuple[str, bytes]] = {}
        self._recent: list[float] = []
        super().__init__()

    # --- test controls -------------------------------------------------------

    def deliveries_by_ref(self) -> Counter:
        return Counter(d["ref"] for d in self.delivered)

    # --- the API -------------------------------------------------------------

    def _rate_limited(self) -> bool:
        if not self.rate_limit_per_s:
            return False
        with self._lock:
            now = time.monotonic()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if len(self._recent) >= self.rate_limit_per_s:
                return True
            self._recent.append(now)
            return False

    def _validate_email(self, email: Any, where: str) -> str | None:
        if not isinstance(email, dict):
            return f"{where}: an email must be an object"
        for required in ("from", "to", "subject"):
            if not email.get(required):
                return f"{where}: The `{required}` field is missing."
        if not (email.get("html") or email.get("text")):
            return f"{where}: one of `html` or `text` is required"
        to = email["to"] if isinstance(email["to"], list) else [email["to"]]
        if len(to) > 50 or not all(isinstance(a, str) and "@" in a for a in to):
            return f"{where}: Invalid `to` field."
        for tag in email.get("tags") or []:
            if not isinstance(tag, dict) or not TAG_RE.match(str(tag.get("name", ""))) or not TAG_RE.match(str(tag.get("value", ""))):
                return f"{where}: Tags should only contain ASCII letters, numbers, underscores, or dashes (max 256): {tag!r}"
        headers = email.get("headers") or {}
        if not isinstance(headers, dict):
            return f"{where}: `headers` must be an object"
        return None

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        path = path.split("?")[0]
        record = {"method": method, "path": path, "headers": headers, "body": body, "at": time.time()}
        try:
            record["json"] = json.loads(body) if body else None
        except ValueError:
            record["json"] = None
        with self._lock:
            self.requests.append(record)
        if self.latency_s:
            time.sleep(self.latency_s)
        cue = self._take_cue(record)
        if cue is not None:
            default = error_body(cue.status, "application_error" if cue.status >= 500 else "rate_limit_exceeded" if cue.status == 429 else "validation_error", "cued failure")
            return cue.status, cue.headers, cue.body if cue.body is not None else default
        if method != "POST" or path not in ("/emails", "/emails/batch"):
            return 404, {}, error_body(404, "not_found", "The requested endpoint does not exist.")
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return 401, {}, error_body(401, "missing_api_key", "Missing API key in the authorization header.")
        if auth != f"Bearer {self.api_key}":
            return 403, {}, error_body(403, "invalid_api_key", "API key is invalid.")
        if self._rate_limited():
            return 429, {"retry-after": "1"}, error_body(429, "rate_limit_exceeded", "Too many requests. You can only make 2 requests per second.")
        if record["json"] is None:
            return 400, {}, error_body(400, "validation_error", "Invalid JSON body.")
        key = headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= 256:
            return 400, {}, error_body(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
        emails = record["json"] if path == "/emails/batch" else [record["json"]]
        if path == "/emails/batch" and (not isinstance(emails, list) or not 1 <= len(emails) <= 100):
            return 400, {}, error_body(400, "validation_error", "A batch holds 1 to 100 emails.")
        for i, email in enumerate(emails):
            problem = self._validate_email(email, f"emails[{i}]" if path.endswith("batch") else "email")
            if problem:
                return 400, {}, error_body(400, "validation_error", problem)
        digest = hashlib.sha256(path.encode() + b"\0" + body).hexdigest()
        with self._lock:
            if key is not None and key in self._idempotency:
                seen_digest, answer = self._idempotency[key]
                if seen_digest != digest:
                    return 409, {}, error_body(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.")
                self.idempotent_replays += 1
                return 200, {}, answer
            ids = [str(uuid.uuid4()) for _ in emails]
            for email_id, email in zip(ids, emails):
                ref = (email.get("headers") or {}).get("X-Entity-Ref-ID") or email_id
                self.delivered.append({"id": email_id, "ref": ref, "email": email, "idempotency_key": key})
            answer = json.dumps({"data": [{"id": i} for i in ids]} if path.endswith("batch") else {"id": ids[0]}).encode()
            if key is not None:
                self._idempotency[key] = (digest, answer)
        return 200, {}, answer
