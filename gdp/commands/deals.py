"""`gdp deal move` and `gdp leads import`: the sales pipeline from the terminal.

`deal move` writes the same `raw.deal_event` row `POST /api/deals/events` would
(same validation, `via = 'cli'`), straight into the database.
"""

from __future__ import annotations

from pathlib import Path

import click

from gdp import db as gdb
from ingest_app.imports.deals import STAGES, InvalidInput, build_deal_row, land_move
from ingest_app.imports.leads import LeadsFileError, import_leads


@click.group("deal")
def deal_group() -> None:
    """Sales pipeline moves (the same rows POST /api/deals/events records)."""


@deal_group.command("move", help=f"Record that EMAIL moved to STAGE, one of: {', '.join(STAGES)}.")
@click.argument("email")
@click.argument("stage", metavar="STAGE")
@click.option("--note", help="Free text kept with the move.")
@click.option("--objection", help="The objection heard, e.g. price, timing, competitor.")
@click.option("--owner", help="Who owns the deal.")
@click.option("--at", "occurred_at", help="When it happened, ISO 8601 (default: now).")
@click.option("--event-id", help="Your id for this move; repeating it records nothing new.")
def deal_move(email, stage, note, objection, owner, occurred_at, event_id) -> None:
    body = {
        key: value
        for key, value in {
            "email": email, "stage": stage, "note": note, "objection": objection,
            "owner": owner, "occurred_at": occurred_at, "event_id": event_id,
        }.items()
        if value is not None
    }
    try:
        row = build_deal_row(body, via="cli")
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from None
    with gdb.connect(gdb.database_url(), autocommit=True) as conn:
        landed = land_move(conn, row)
    state = "recorded" if landed.new else "not stored (names a forgotten person)" if landed.forgotten else "already recorded"
    click.echo(f"{state}: {row['email']} -> {row['stage']} (event {row['deal_event_id']})")


@click.group("leads")
def leads_group() -> None:
    """Outbound leads (raw.lead), one per email."""


@leads_group.command("import")
@click.argument("csv_path", metavar="CSV", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Store nothing when any row is invalid.")
def leads_import(csv_path: Path, strict: bool) -> None:
    """Import leads from CSV (columns email, name, company, owner, source); safe to re-run."""
    with gdb.connect(gdb.database_url(), autocommit=True) as conn:
        try:
            report = import_leads(conn, csv_path, strict=strict)
        except LeadsFileError as exc:
            raise click.ClickException(str(exc)) from None
    for line, reason in report.invalid:
        click.echo(f"line {line}: {reason}", err=True)
    for line, email, replaced_by in report.duplicates:
        click.echo(f"line {line}: {email} again on line {replaced_by}; line {replaced_by} kept", err=True)
    if strict and report.invalid:
        raise click.ClickException(f"{len(report.invalid)} invalid rows; nothing imported (--strict)")
    click.echo(report.summary())
