"""`gdp serve`: production gunicorn settings, and an access log that leaks no tokens."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from gunicorn.config import Config

from gdp.serve import RedactingLogger, gunicorn_options


def test_access_log_hides_tracked_link_tokens(caplog):
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", gunicorn_options("127.0.0.1", 8000, 2)["access_log_format"])
    logger = RedactingLogger(cfg)
    req = SimpleNamespace(headers=[], method="GET", path="/c/SECRETTOKEN123", query="utm_source=x", uri="/c/SECRETTOKEN123",
                          version=(1, 1))
    resp = SimpleNamespace(status="302 FOUND", response_length=0, sent=0, headers=[])
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/c/SECRETTOKEN123?utm_source=x", "PATH_INFO": "/c/SECRETTOKEN123",
               "QUERY_STRING": "utm_source=x", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    atoms = logger.atoms(resp, req, environ, SimpleNamespace(seconds=0, microseconds=1500))
    line = cfg.access_log_format % atoms
    assert "SECRETTOKEN123" not in line and "utm_source" not in line
    assert "/c/<redacted>" in line


def test_production_options():
    options = gunicorn_options("0.0.0.0", 9000, None)
    assert options["bind"] == "0.0.0.0:9000"
    assert options["workers"] >= 3
    assert options["timeout"] <= 30
    assert options["max_requests"] > 0
