"""`gdp activate`: process what is pending in the activation outbox once."""

from __future__ import annotations

import click

from activation.runner import CHANNELS


@click.command("activate")
@click.option("--dry-run", is_flag=True, help="Render and record what would be sent, call no provider; "
              "the same actions are sent by the next run without --dry-run.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(CHANNELS), help="Only these channels (repeatable).")
@click.option("--quiet", is_flag=True, help="Only the summary, no progress lines.")
def activate_command(dry_run: bool, channels: tuple[str, ...], quiet: bool) -> None:
    """Turn ledger transitions into outbox rows and send what is due (emails, Meta, sequences)."""
    from activation.runner import ActivationError, activate
    from gdp.settings import MissingSetting

    progress = None if quiet else (lambda message: click.echo(f"  … {message}", err=True))
    try:
        report = activate(channels=channels or None, dry_run=True if dry_run else None, progress=progress)
    except ActivationError as exc:
        click.echo(exc.report.summary())
        raise click.ClickException(f"channel(s) stopped, their actions wait in the outbox: {exc}") from None
    except (MissingSetting, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
