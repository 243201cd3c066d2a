"""The ingest app: verify, land raw, answer. Nothing else on the request path."""

from __future__ import annotations

import logging

from flask import Flask

from gdp.settings import Settings, get_settings
from ingest_app import browser_api, clicks, db, deals_api, errors, health, openapi, ratelimit, unsubscribe
from ingest_app.webhooks import cal, calendly, posthog, resend, stripe_events

# Each blueprint names the settings it cannot run without; the app refuses to
# start when one is missing instead of accepting unverifiable deliveries.
BLUEPRINTS = [health, resend, stripe_events, posthog, cal, calendly, deals_api, clicks, browser_api, unsubscribe, openapi]


def check_settings(settings: Settings) -> None:
    """Raise `MissingSetting`, naming every unset variable at once, when an endpoint could not verify its input."""
    needed: dict[str, str] = {}
    for module in BLUEPRINTS:
        for attr, purpose in getattr(module, "REQUIRED_SETTINGS", {}).items():
            needed.setdefault(attr, purpose)
    settings.require_all(needed)


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    settings = settings or get_settings()
    check_settings(settings)

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, GDP_SETTINGS=settings)
    if test_config:
        app.config.update(test_config)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ratelimit.init_app(app, settings)
    db.init_app(app, settings)
    errors.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app
