"""`make demo`: the main job end to end on the embedded database.

embedded PostgreSQL → migrations → the ingest app under gunicorn → a simulated
world sent through the real endpoints → one pipeline cycle → activation in
dry-run → a report in the terminal and as an HTML page.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path

import click
import httpx

from gdp import db as gdb
from gdp.durations import human_duration
from gdp.migrate import apply_migrations
from gdp.serve import free_port
from gdp.settings import REPO_ROOT, Settings, get_settings

# Secrets the demo invents when the environment has none: the server and the
# simulator must agree, and nothing real is ever signed with them.
DEMO_SECRETS = {
    "resend_webhook_secret": lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    "stripe_webhook_secret": lambda: "whsec_" + secrets.token_hex(16),
    "posthog_webhook_secret": lambda: secrets.token_hex(16),
    "cal_webhook_secret": lambda: secrets.token_hex(16),
    "calendly_webhook_signing_key": lambda: secrets.token_hex(16),
    "tracking_link_secret": lambda: secrets.token_hex(16),
    "api_token": lambda: secrets.token_hex(16),
}


def demo_env_path(settings: Settings) -> Path:
    """Where the demo keeps the secrets it invented, so `gdp link` and `gdp serve` can sign like it did."""
    return settings.data_dir / "demo" / "demo.env"


def _env_names() -> dict[str, str]:
    return {f.name: f.metadata["env"] for f in fields(Settings)}


def _read_demo_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _demo_settings(settings: Settings) -> Settings:
    """Fill each missing secret with the one a previous demo invented, else a new one, and keep them in demo.env.

    Reusing them keeps links in earlier demo emails valid; the file is 0600 under the git-ignored data dir and
    holds only invented throwaway values, never one the environment set.
    """
    names = _env_names()
    path = demo_env_path(settings)
    kept = _read_demo_env(path)
    filled = {attr: kept.get(names[attr]) or make() for attr, make in DEMO_SECRETS.items() if not getattr(settings, attr)}
    if filled:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# Secrets `gdp demo` invented for this data dir (throwaway; the environment's own win).",
                 f"# To mint links or serve with them: set -a; . {path}; set +a"]
        lines += [f"{names[attr]}={value}" for attr, value in filled.items()]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")
    return replace(settings, **filled)


def world_clock(out_dir: Path, persons: int, days: int, seed: int) -> datetime:
    """The simulated world's `now`: the first demo's for the same (persons, days, seed) in this data dir.

    A second demo then replays the very same world (same payloads, same ids), which the ingest app
    recognises as redeliveries, so the numbers do not move; a new world gets a new clock.
    """
    path = out_dir / "world.json"
    key = f"{persons}:{days}:{seed}"
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    if kept.get("world") == key and kept.get("now"):
        return datetime.fromisoformat(kept["now"])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    path.write_text(json.dumps({"world": key, "now": now.isoformat()}) + "\n")
    return now


def _server_env(settings: Settings, url: str, port: int) -> dict[str, str]:
    env = {**os.environ, **settings.as_env()}
    env["DATABASE_URL"] = url
    env["GDP_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    # The simulator sends every simulated person's clicks and CAPI posts from this machine.
    env.setdefault("GDP_RATE_LIMIT_EXEMPT", "127.0.0.1,::1")
    return env


def start_server(settings: Settings, url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdp.cli", "serve", "--port", str(port), "--workers", "3"],
        env=_server_env(settings, url, port), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"ingest server exited; see {log_path}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return proc, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise click.ClickException(f"ingest server did not become healthy in 30 s; see {log_path}")


def run_demo(persons: int, days: int, seed: int) -> None:
    from activation.runner import activate
    from orchestration.cycle import run_cycle
    from tools.report import build_report, write_html
    from tools.simulate.sender import Sender
    from tools.simulate.world import World

    settings = _demo_settings(get_settings())
    out_dir = settings.data_dir / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    click.secho("1/6 database", bold=True)
    url = gdb.database_url(settings)
    result = apply_migrations(url)
    click.echo(f"    {gdb.redact(url)}: {len(result.applied)} migrations applied, {len(result.skipped)} already there")

    click.secho("2/6 ingest server (gunicorn)", bold=True)
    server, base_url = start_server(settings, url, out_dir / "server.log")
    settings = replace(settings, public_base_url=base_url)
    click.echo(f"    listening on {base_url} (log: {out_dir / 'server.log'})")
    try:
        click.secho(f"3/6 simulating {persons} persons over {days} days (seed {seed})", bold=True)
        world = World(persons=persons, days=days, seed=seed, now=world_clock(out_dir, persons, days, seed))
        world.build()
        touches = world.touches()
        sender = Sender(base_url, settings, url, seed=seed)
        with click.progressbar(length=len(touches), label="    sending", show_pos=True) as bar:
            stats = sender.send_all(touches, progress=bar.update)
        sender.close()
        total_sent = sum(stats.sent.values())
        click.echo(f"    {total_sent} requests, {sum(stats.accepted.values())} accepted, "
                   f"{sum(stats.duplicates.values())} redeliveries recognised, {sum(stats.failed.values())} failed")
        for error in stats.errors[:5]:
            click.echo(f"    ! {error}")
    finally:
        server.terminate()
        server.wait(timeout=15)

    click.secho("4/6 pipeline cycle (gdp refresh)", bold=True)
    cycle = run_cycle(url, stream=False)
    click.echo("    " + cycle.summary().replace("\n", "\n    "))
    if not cycle.ok:
        raise click.ClickException("the pipeline cycle failed; run `gdp refresh` to see dbt's output")

    click.secho("5/6 activation (dry-run)", bold=True)
    activation = activate(url, dry_run=True, settings=settings)
    click.echo("    " + activation.summary().replace("\n", "\n    "))
    click.echo(f"    rendered emails: {settings.data_dir / 'outbox-preview'}")

    click.secho("6/6 report", bold=True)
    report = build_report(url, settings, send_stats=stats)
    click.echo(report.as_text())
    html_path = write_html(report, out_dir / "report.html")
    click.echo(f"\nHTML report: {html_path}")
    click.echo(f"demo finished in {human_duration(time.monotonic() - started)}")
    if not settings.database_url:
        click.echo("the embedded PostgreSQL keeps running for the next command; `gdp db stop` stops it")
    if (env_file := demo_env_path(settings)).exists():
        click.echo(f"secrets the demo invented (for gdp link / gdp serve): set -a; . {env_file}; set +a")
