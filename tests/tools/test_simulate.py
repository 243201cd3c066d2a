"""`gdp simulate`: a small seeded world through the real endpoints of a running app."""

from __future__ import annotations

import threading
from dataclasses import fields

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from gdp.cli import main
from gdp.settings import Settings, get_settings

pytestmark = pytest.mark.slow


def test_simulate_sends_a_world_through_a_running_app(app, settings, database_url, clean_raw, monkeypatch):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env_names = {f.name: f.metadata["env"] for f in fields(Settings)}
        for attr, value in vars(settings).items():
            if isinstance(value, str) and attr in env_names:
                monkeypatch.setenv(env_names[attr], value)
        monkeypatch.setenv("DATABASE_URL", database_url)
        get_settings.cache_clear()
        url = f"http://127.0.0.1:{server.server_port}"
        result = CliRunner().invoke(main, ["simulate", "--url", url, "--persons", "30", "--seed", "11"])
    finally:
        server.shutdown()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
    landed = {t: clean_raw.execute(f"select count(*) from raw.{t}").fetchone()[0]
              for t in ("resend_event", "posthog_event", "lead")}
    assert all(n > 0 for n in landed.values()), landed
