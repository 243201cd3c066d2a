"""Set-up as a new user meets it: each CLI finding of issue 16, run the way a person runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from click.testing import CliRunner

from gdp.durations import human_duration
from gdp.links import verify_token
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings, get_settings


@pytest.fixture
def cli(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    from gdp.cli import main

    def invoke(*args, **env):
        get_settings.cache_clear()  # settings are read once per process; each call here is a fresh command
        return CliRunner(env=env).invoke(main, list(args))

    yield invoke
    get_settings.cache_clear()


def _gdp(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdp.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


# --- gdp link ---------------------------------------------------------------------------------

def test_link_help_names_only_files_that_exist(cli):
    result = cli("link", "--help")
    assert result.exit_code == 0
    named = re.findall(r"[\w.-]+(?:/[\w.*-]+)+", result.output)
    assert named, result.output
    for path in named:
        assert list(REPO_ROOT.glob(path)), f"gdp link --help names {path}, which does not exist"


def test_link_after_the_demo_says_what_to_set_and_then_works(cli, monkeypatch, tmp_path):
    from tools.demo import _demo_settings, demo_env_path

    monkeypatch.delenv("TRACKING_LINK_SECRET", raising=False)
    monkeypatch.setenv("GDP_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    # What `gdp demo` does with the secrets it invents: kept, 0600, for this data dir.
    demo = _demo_settings(Settings(data_dir=tmp_path))
    env_file = demo_env_path(demo.__class__(data_dir=tmp_path))
    assert env_file.stat().st_mode & 0o077 == 0
    assert _demo_settings(Settings(data_dir=tmp_path)).tracking_link_secret == demo.tracking_link_secret

    args = ("link", "--person", "p_1", "--campaign", "invite_to_try", "--funnel", "newsletter",
            "--url", "https://example.com/pricing")
    refused = cli(*args)
    assert refused.exit_code == 1
    assert "TRACKING_LINK_SECRET is not set" in refused.output
    assert str(env_file) in refused.output and "openssl rand -hex 32" in refused.output
    assert demo.tracking_link_secret not in refused.output

    # Doing what the message says: export the demo's env file.
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#"))
    ok = cli(*args, **values)
    assert ok.exit_code == 0, ok.output
    token = ok.output.strip().rsplit("/c/", 1)[1]
    link = verify_token(demo.tracking_link_secret, token)
    assert (link.person_id, link.campaign_id, link.url) == ("p_1", "invite_to_try", "https://example.com/pricing")


# --- gdp simulate, gdp dbt, gdp bench ---------------------------------------------------------

def test_simulate_against_a_dead_url_fails_fast_and_writes_nothing(cli, clean_raw):
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = cli("simulate", "--url", dead, "--persons", "50")
    took = time.monotonic() - started
    assert result.exit_code == 1
    assert f"no ingest app answers at {dead}" in result.output and "nothing was sent or written" in result.output
    assert took < 10, f"took {took:.1f} s"
    assert clean_raw.execute("select count(*) from raw.lead").fetchone()[0] == 0
    assert clean_raw.execute("select count(*) from auth.users").fetchone()[0] == 0


def test_bare_dbt_shows_help():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    proc = _gdp("dbt", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: " in proc.stdout and "gdp dbt build" in proc.stdout
    assert "No such option" not in proc.stdout + proc.stderr
    assert _gdp("dbt", "--help", env=env).stdout == proc.stdout
    # After a sub-command, --help is dbt's own, as the help text promises.
    build = _gdp("dbt", "build", "--help", env=env)
    assert build.returncode == 0 and "--select" in build.stdout and "gdp dbt" not in build.stdout


def test_bench_help_says_what_it_runs():
    proc = _gdp("bench", "--help", env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "--only" in proc.stdout
    for name in ("ingest", "clicks", "pipeline", "latency"):
        assert name in proc.stdout
    assert "gdp bench --help" not in proc.stdout


# --- gdp latency ---------------------------------------------------------------------------------

def test_latency_refuses_a_bogus_channel(cli):
    result = cli("latency", "--channel", "pigeon")
    assert result.exit_code == 2
    assert "pigeon" in result.output and "email" in result.output


def test_latency_counts_only_real_sends_in_human_units(cli, conn):
    cycle = f"latency-real-{time.time_ns()}"
    rows = [("email", "sent", 3 * 86400), ("email", "dry_run", 10), ("tag_objection", "sent", 1),
            ("outbound", "sent", 1), ("notify_human", "sent", 90)]
    for i, (channel, status, wait) in enumerate(rows):
        conn.execute(
            "insert into activation.outbox (outbox_key, channel, status, qualified_at, sent_at, cycle_id)"
            " values (%s, %s, %s, now() - make_interval(secs => %s), now(), %s)",
            (f"{cycle}-{i}", channel, status, wait, cycle))
    conn.commit()
    result = cli("latency", "--cycle", cycle)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.split()}
    assert "n=2 " in lines["all"]  # the real email and the notification, not the dry-run, tag or enrollment
    assert "p50=3 d" in lines["email"] and "n=1 " in lines["email"]
    assert "p50=1 min 30 s" in lines["notify_human"]
    assert "tag_objection" not in lines and "outbound" not in lines
    assert "n=2 " in cli("latency", "--cycle", cycle, "--include-dry-run").output.splitlines()[1]


@pytest.mark.parametrize("seconds, shown", [
    (0.25, "250 ms"), (4.2, "4.2 s"), (200, "3 min 20 s"), (3661, "1 h 1 min"), (223917.97, "2 d 14 h"),
])
def test_durations_print_in_human_units(seconds, shown):
    assert human_duration(seconds) == shown


# --- gdp dagster -----------------------------------------------------------------------------------

def test_dagster_default_port_is_not_app_base_url_s(cli):
    from gdp.commands.dagster import DEFAULT_PORT, dagster_command

    app_port = urlsplit(Settings().app_base_url).port
    assert DEFAULT_PORT != app_port
    port_option = next(p for p in dagster_command.params if p.name == "port")
    assert port_option.default == DEFAULT_PORT
    # Asked for APP_BASE_URL's port anyway, it refuses before starting anything.
    result = cli("dagster", "--port", str(app_port))
    assert result.exit_code == 1 and "APP_BASE_URL" in result.output


# --- gdp db stop -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_db_stop_stops_the_embedded_server(tmp_path):
    data_dir = Path("/tmp") / f"gdp-stop-{os.getpid()}-{time.time_ns() % 10**6}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["GDP_DATA_DIR"] = str(data_dir)
    try:
        url = _gdp("db", "url", env=env).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        stopped = _gdp("db", "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped the embedded PostgreSQL" in stopped.stdout
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=3)
        again = _gdp("db", "stop", env=env)
        assert "no embedded PostgreSQL runs" in again.stdout
    finally:
        _gdp("db", "stop", env=env)
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
