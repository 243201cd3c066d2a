"""`gdp link`: print a tracked URL, the same one activation puts in an email.

    gdp link --person p_123 --campaign welcome --funnel newsletter \
             --url 'https://example.com/pricing?plan=pro' [--email-id em_1]

The link is `<GDP_PUBLIC_BASE_URL>/c/<token>`, signed with TRACKING_LINK_SECRET; after
`gdp demo`, the secret the demo invented is in `<data dir>/demo/demo.env`.
"""

from __future__ import annotations

import click

from gdp.links import InvalidLink, mint_link
from gdp.settings import MissingSetting, get_settings


@click.command("link")
@click.option("--person", "person_id", required=True, help="person_id the click belongs to")
@click.option("--campaign", "campaign_id", required=True,
              help="campaign_id, e.g. one an email template names in activation/templates/*.yml")
@click.option("--funnel", required=True, help="funnel name, e.g. newsletter or outbound")
@click.option("--url", required=True, help="http(s) destination")
@click.option("--email-id", default=None, help="Resend email id the link is in (optional)")
def link_command(person_id: str, campaign_id: str, funnel: str, url: str, email_id: str | None) -> None:
    """Print a signed tracked link to URL for one person and campaign (signed with TRACKING_LINK_SECRET)."""
    settings = get_settings()
    try:
        click.echo(mint_link(settings, person_id, campaign_id, funnel, url, email_id))
    except InvalidLink as exc:
        raise click.ClickException(str(exc)) from None
    except MissingSetting:
        raise click.ClickException(_missing_secret(settings)) from None


def _missing_secret(settings) -> str:
    from tools.demo import demo_env_path

    demo_env = demo_env_path(settings)
    hint = (f"To sign like the demo did (its ingest app accepts these links): set -a; . {demo_env}; set +a. "
            if demo_env.exists() else "")
    return ("TRACKING_LINK_SECRET is not set, and tracked links are signed with it. " + hint
            + "For your own deployment: export TRACKING_LINK_SECRET=\"$(openssl rand -hex 32)\", the same value "
              "the ingest app (gdp serve) runs with.")
