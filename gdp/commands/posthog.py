"""`gdp posthog pull`: the query-API backfill, with progress on the terminal."""

from __future__ import annotations

import click

from gdp import db as gdb
from gdp.settings import MissingSetting, get_settings
from ingest_app.backfill.posthog import DEFAULT_PAGE_SIZE, HogQLClient, PostHogQueryError, pull
from ingest_app.imports.deals import InvalidInput, parse_timestamp


@click.group("posthog")
def posthog_group() -> None:
    """PostHog: events arrive by webhook; `pull` backfills through the query API."""


@posthog_group.command("pull")
@click.option("--since", help="ISO timestamp to read from (default: where the last pull stopped).")
@click.option("--project-id", help="PostHog project id (default: POSTHOG_PROJECT_ID).")
@click.option("--page-size", default=DEFAULT_PAGE_SIZE, show_default=True, type=click.IntRange(1, 50_000))
def pull_command(since: str | None, project_id: str | None, page_size: int) -> None:
    """Land PostHog events into raw.posthog_event (via='query_api'); safe to re-run."""
    settings = get_settings()
    try:
        api_key, warning = settings.posthog_query_key()
        project_id = project_id or settings.require("posthog_project_id", "gdp posthog pull reads this project")
        start = parse_timestamp(since, "--since") if since else None
    except (MissingSetting, InvalidInput) as exc:
        raise click.ClickException(str(exc)) from None
    if warning:
        click.echo(f"warning: {warning}", err=True)

    client = HogQLClient(
        settings.posthog_host, api_key, str(project_id), on_wait=lambda message: click.echo(message, err=True)
    )

    def progress(page: int, fetched: int, new: int, cursor) -> None:
        click.echo(f"page {page}: {fetched} events, {new} new, up to {cursor.timestamp.isoformat()}")

    click.echo(f"pulling PostHog project {project_id} from {settings.posthog_host}"
               + (f" since {start.isoformat()}" if start else " from the stored cursor"))
    try:
        with gdb.connect(gdb.database_url(settings), autocommit=True) as conn:
            result = pull(conn, client, since=start, page_size=page_size, on_page=progress)
    except PostHogQueryError as exc:
        raise click.ClickException(f"{exc} (pages already landed are kept; re-run to resume)") from None
    finally:
        client.close()
    click.echo(result.summary())
