"""`gdp latency`: p50/p95 from qualification to send, per channel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click

from activation.latency import SEND_CHANNELS, latency
from gdp import db as gdb


@click.command("latency")
@click.option("--channel", default=None, type=click.Choice(SEND_CHANNELS),
              help="Only this channel (tag steps are not sends and are never counted).")
@click.option("--since-hours", default=None, type=float, help="Only sends in the last N hours.")
@click.option("--cycle", "cycle_id", default=None, help="Only sends of this pipeline cycle (a Dagster run id).")
@click.option("--include-dry-run", is_flag=True, help="Also count dry-run renders (demo, no provider keys); off, only real sends.")
def latency_command(channel: str | None, since_hours: float | None, cycle_id: str | None, include_dry_run: bool) -> None:
    """Print p50/p95 from a person qualifying to the provider accepting a real send, per channel."""

    since = datetime.now(timezone.utc) - timedelta(hours=since_hours) if since_hours else None
    for report in latency(
        gdb.database_url(), channel=channel, since=since, cycle_id=cycle_id, include_dry_run=include_dry_run
    ):
        click.echo(report.line())
