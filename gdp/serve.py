"""Production serving of the ingest app under gunicorn."""

from __future__ import annotations

import multiprocessing

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from ingest_app import create_app

        return create_app()


def gunicorn_options(host: str, port: int, workers: int | None) -> dict:
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
        "accesslog": "-",
        # The access log never carries query strings (tracked links hold tokens).
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "errorlog": "-",
        "preload_app": False,
    }


def run_gunicorn(host: str, port: int, workers: int | None) -> None:
    _Gunicorn(gunicorn_options(host, port, workers)).run()
