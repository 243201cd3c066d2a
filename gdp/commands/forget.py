"""`gdp person forget <email|person_id>`: the right to be forgotten (see privacy/forget.py)."""

from __future__ import annotations

import click

from gdp import db as gdb
from gdp.settings import MissingSetting


@click.command("forget")
@click.argument("identifier")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget_command(identifier: str, yes: bool) -> None:
    """Delete everything stored about a person, remove them from Meta audiences, and drop later deliveries.

    IDENTIFIER is an email address or a person_id. Irreversible.
    """
    from activation.http import ProviderError
    from privacy.forget import ForgetError, forget

    if not yes:
        click.confirm(f"Irreversibly forget {identifier}?", abort=True)
    try:
        report = forget(gdb.database_url(), identifier)
    except (ForgetError, MissingSetting, ProviderError) as exc:
        raise click.ClickException(f"nothing deleted: {exc}") from None
    click.echo(report.summary())
