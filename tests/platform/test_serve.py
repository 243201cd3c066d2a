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


def test_access_log_off_by_default_errors_only_or_all():
    assert gunicorn_options("127.0.0.1", 8000, 2)["accesslog"] is None
    assert gunicorn_options("127.0.0.1", 8000, 2, "all")["accesslog"] == "-"
    errors = gunicorn_options("127.0.0.1", 8000, 2, "errors")
    cfg = Config()
    for key in ("accesslog", "access_log_format", "logger_class"):
        cfg.set(key, errors[key])
    logger = errors["logger_class"](cfg)
    lines = []
    logger.access_log.handle = lines.append
    req = SimpleNamespace(headers=[], method="POST", path="/webhooks/resend", query="", uri="/webhooks/resend",
                          version=(1, 1))
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/webhooks/resend", "PATH_INFO": "/webhooks/resend",
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    for status in ("200 OK", "401 UNAUTHORIZED"):
        resp = SimpleNamespace(status=status, status_code=int(status[:3]), response_length=0, sent=0, headers=[])
        logger.access(resp, req, environ, SimpleNamespace(seconds=0, microseconds=900))
    assert len(lines) == 1 and " 401 " in lines[0].getMessage()


def test_access_log_setting_is_validated(monkeypatch):
    import pytest

    from gdp.settings import InvalidSetting, Settings

    monkeypatch.setenv("GDP_ACCESS_LOG", "verbose")
    with pytest.raises(InvalidSetting, match="GDP_ACCESS_LOG must be one of off, errors, all"):
        Settings.from_env()
    with pytest.raises(ValueError, match="GDP_ACCESS_LOG"):
        gunicorn_options("127.0.0.1", 8000, 2, "verbose")
