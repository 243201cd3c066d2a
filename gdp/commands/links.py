"""`gdp link`: print a tracked URL, the same one activation puts in an email.

    gdp link --person p_123 --campaign welcome --funnel newsletter \
             --url 'https://example.com/pricing?plan=pro' [--email-id em_1]

The link is `<GDP_PUBLIC_BASE_URL>/c/<token>`, signed with TRACKING_LINK_SECRET.
"""

from __future__ import annotations

import click

from gdp.links import InvalidLink, mint_link
from gdp.settings import MissingSetting, get_settings


@click.command("link")
@click.option("--person", "person_id", required=True, help="person_id the click belongs to")
@click.option("--campaign", "campaign_id", required=True, help="campaign_id (seeds/campaigns)")
@click.option("--funnel", required=True, help="funnel name, e.g. newsletter or outbound")
@click.option("--url", required=True, help="http(s) destination")
@click.option("--email-id", default=None, help="Resend email id the link is in (optional)")
def link_command(person_id: str, campaign_id: str, funnel: str, url: str, email_id: str | None) -> None:
    """Print a signed tracked link to URL for one person and campaign."""
    try:
        click.echo(mint_link(get_settings(), person_id, campaign_id, funnel, url, email_id))
    except (InvalidLink, MissingSetting) as exc:
        raise click.ClickException(str(exc)) from None
