"""One-line JSON error answers, so a provider's delivery log says what was wrong."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ingest_app.db import DatabaseUnavailable


class Rejected(Exception):
    """A delivery refused before anything was stored."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def error_response(status: int, reason: str, headers: dict | None = None):
    response = jsonify(error=reason)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(Rejected)
    def _rejected(exc: Rejected):
        return error_response(exc.status, exc.reason)

    @app.errorhandler(DatabaseUnavailable)
    def _db_down(exc: DatabaseUnavailable):
        return error_response(503, "database unavailable, retry later", {"Retry-After": "5"})

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        reason = {413: f"body larger than {app.config['MAX_CONTENT_LENGTH']} bytes"}.get(exc.code, exc.description)
        return error_response(exc.code or 500, reason)
