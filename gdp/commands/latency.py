"""`gdp latency`: p50/p95 from qualification to send, per channel, and per stage of the path."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from activation.latency import (
    SEND_CHANNELS,
    dagster_run_moments,
    latency,
    send_timelines,
    stage_breakdown,
    with_run_moments,
)
from gdp import db as gdb
from gdp.settings import get_settings


def dagster_database_url(url: str) -> str:
    """The URL of the `dagster` database `gdp dagster` keeps next to the data (same server)."""
    from gdp.commands.dagster import DAGSTER_DATABASE, sqlalchemy_url

    parts = urlsplit(url)
    return sqlalchemy_url(urlunsplit(parts._replace(path="/" + DAGSTER_DATABASE)))


@contextmanager
def configured_instance(url: str):
    """The Dagster instance of DAGSTER_HOME, else of `gdp dagster`'s home when it exists; None without one."""
    from gdp.commands.dagster import dagster_home

    home = os.environ.get("DAGSTER_HOME") or str(dagster_home())
    if not (Path(home) / "dagster.yaml").exists():
        yield None
        return
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    if "DAGSTER_PG_URL" not in os.environ:
        os.environ["DAGSTER_PG_URL"] = dagster_database_url(url)
    with DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        yield instance


@click.command("latency")
@click.option("--channel", default=None, type=click.Choice(SEND_CHANNELS),
              help="Only this channel (tag steps are not sends and are never counted).")
@click.option("--since-hours", default=None, type=float, help="Only sends in the last N hours.")
@click.option("--cycle", "cycle_id", default=None, help="Only sends of this pipeline cycle (a Dagster run id).")
@click.option("--include-dry-run", is_flag=True, help="Also count dry-run renders (demo, no provider keys); off, only real sends.")
@click.option("--no-dagster", is_flag=True, help="Only the database's timestamps, even when a Dagster instance is configured.")
def latency_command(
    channel: str | None, since_hours: float | None, cycle_id: str | None, include_dry_run: bool, no_dagster: bool
) -> None:
    """Print p50/p95 from qualifying to a real send, per channel, then per stage of the path.

    Stages: landing (raw received_at), trigger (run created), launch (run started),
    dbt (dbt step end), ledger (transition recorded), activation (sent). The run
    stages need Dagster's run records (DAGSTER_HOME, or the one `gdp dagster` keeps).
    """
    url = gdb.database_url()
    since = datetime.now(timezone.utc) - timedelta(hours=since_hours) if since_hours else None
    for report in latency(url, channel=channel, since=since, cycle_id=cycle_id, include_dry_run=include_dry_run):
        click.echo(report.line())
    timelines = send_timelines(
        url, dbt_schema=get_settings().dbt_schema, channel=channel, since=since, cycle_id=cycle_id,
        include_dry_run=include_dry_run,
    )
    source = "database timestamps only (no Dagster instance configured)"
    if timelines and not no_dagster:
        try:
            with configured_instance(url) as instance:
                if instance is not None:
                    runs = dagster_run_moments(instance, (t.cycle_id for t in timelines))
                    timelines = with_run_moments(timelines, runs)
                    source = f"database + Dagster run records ({len(runs)} runs)"
        except Exception as exc:  # an unreachable Dagster store still leaves the database's figures
            source = f"database timestamps only (Dagster instance unreadable: {type(exc).__name__})"
    click.echo(f"\nstages of the path, {source}:")
    for stage in stage_breakdown(timelines):
        click.echo("  " + stage.line())
