"""Production serving of the ingest app under gunicorn."""

from __future__ import annotations

import multiprocessing
import re
import socket
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# Tracked-link tokens carry person and email ids: the access log shows the route only.
_TOKEN_PATH = re.compile(r"^/c/[^/?]+")


class RedactingLogger(Logger):
    """Gunicorn's logger, with /c/<token> paths logged as /c/<redacted>."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = _TOKEN_PATH.sub("/c/<redacted>", atoms.get("U", ""))
        return atoms


class ErrorsOnlyLogger(RedactingLogger):
    """GDP_ACCESS_LOG=errors: only 4xx/5xx answers get a line, so a healthy request costs no log write."""

    def access(self, resp, req, environ, request_time):
        if (getattr(resp, "status_code", None) or 0) >= 400:
            super().access(resp, req, environ, request_time)


ACCESS_LOGGERS = {"off": RedactingLogger, "errors": ErrorsOnlyLogger, "all": RedactingLogger}


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict, app_factory: Callable[[], Any]):
        self.options = options
        self.app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.app_factory()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for servers the demo, benchmarks and tests start."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def gunicorn_options(host: str, port: int, workers: int | None, access_log: str = "off") -> dict:
    """`access_log` is GDP_ACCESS_LOG: off (the default; ~8% of ingest throughput), errors, or all."""
    if access_log not in ACCESS_LOGGERS:
        raise ValueError(f"GDP_ACCESS_LOG must be one of {', '.join(ACCESS_LOGGERS)}, got {access_log!r}")
    return {
        "bind": f"{host}:{port}",
        "workers": workers or multiprocessing.cpu_count() * 2 + 1,
        "worker_class": "gthread",
        "threads": 4,
        # Providers time out after ~10-30 s; a stuck request must not hold a worker longer.
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Recycle workers now and then so a slow leak cannot grow without bound.
        "max_requests": 20000,
        "max_requests_jitter": 2000,
        # gunicorn writes no access line at all when accesslog is None.
        "accesslog": None if access_log == "off" else "-",
        # The access log never carries query strings or link tokens (see RedactingLogger).
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "errorlog": "-",
        "logger_class": ACCESS_LOGGERS[access_log],
        "preload_app": False,
    }


def run_gunicorn(
    host: str, port: int, workers: int | None, app_factory: Callable[[], Any], access_log: str = "off"
) -> None:
    """Serve the app `app_factory` builds in each worker (the CLI passes the ingest app's; platform imports no app)."""
    _Gunicorn(gunicorn_options(host, port, workers, access_log), app_factory).run()
