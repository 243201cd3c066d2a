"""A local stand-in for Supabase Auth's (GoTrue) admin API: deleting a user.

`DELETE /auth/v1/admin/users/<id>` with headers `apikey: <service role key>` and
`Authorization: Bearer <service role key>` answers 200 `{}` and forgets the user;
an unknown id answers 404 `{"code": 404, "error_code": "user_not_found", "msg":
"User not found"}`, a wrong key 401 `{"code": 401, "error_code": "bad_jwt", ...}`,
a path that is no UUID 404 as well. `on_delete(id)` runs on each deletion, as the
real service removes the row from `auth.users` in the same database. Cues make the
next requests answer 429 (`retry-after`) or 5xx.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

from tests.fakes.base import FakeServer

PATH = re.compile(r"^/auth/v1/admin/users/(?P<id>[^/?]+)$")


def auth_error(status: int, error_code: str, msg: str) -> bytes:
    return json.dumps({"code": status, "error_code": error_code, "msg": msg}).encode()


class FakeSupabaseAuth(FakeServer):
    def __init__(self, service_role_key: str = "service_role_test_key", on_delete: Callable[[str], None] | None = None):
        self.service_role_key = service_role_key
        self.users: set[str] = set()
        self.on_delete = on_delete
        super().__init__()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        record = {"method": method, "path": path, "headers": headers}
        with self._lock:
            self.requests.append(record)
        cue = self._take_cue(record)
        if cue is not None:
            default = auth_error(cue.status, "over_request_rate_limit" if cue.status == 429 else "unexpected_failure", "cued")
            return cue.status, cue.headers, cue.body if cue.body is not None else default
        if headers.get("apikey") != self.service_role_key or headers.get("authorization") != f"Bearer {self.service_role_key}":
            return 401, {}, auth_error(401, "bad_jwt", "invalid JWT: unable to parse or verify signature")
        match = PATH.match(path)
        if method != "DELETE" or not match:
            return 404, {}, auth_error(404, "not_found", "Not Found")
        try:
            user_id = str(uuid.UUID(match["id"]))
        except ValueError:
            return 404, {}, auth_error(404, "user_not_found", "User not found")
        with self._lock:
            if user_id not in self.users:
                return 404, {}, auth_error(404, "user_not_found", "User not found")
            self.users.discard(user_id)
        if self.on_delete:
            self.on_delete(user_id)
        return 200, {}, b"{}"
