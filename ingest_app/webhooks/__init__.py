"""Provider webhook endpoints: one module per provider, each verifies then lands."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, request

from ingest_app.errors import Rejected
from ingest_app.validation import load_json


def raw_body() -> bytes:
    """The exact bytes the provider signed (413 past the size limit)."""
    return request.get_data(cache=True)


def parse_json_object(body: bytes) -> dict[str, Any]:
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise Rejected(400, "body must be a JSON object")
    return payload


def require_field(payload: dict[str, Any], name: str) -> Any:
    value = payload.get(name)
    if value in (None, ""):
        raise Rejected(400, f"missing field {name!r}")
    return value


def audit_headers(*names: str) -> dict[str, str]:
    """Delivery headers kept with the row; callers never pass signature headers."""
    headers = request.headers
    return {name: value for name in names if (value := headers.get(name)) is not None}


def stored_response(new: bool, key: str):
    """`{"duplicate": ..., "id": key, "ok": true}`, as jsonify writes it (sorted keys), without its JSON provider."""
    if type(key) is not str:
        return jsonify(ok=True, duplicate=not new, id=key), 200
    body = f'{{"duplicate":{"false" if new else "true"},"id":{json.dumps(key)},"ok":true}}\n'
    return current_app.response_class(body, status=200, mimetype="application/json")
