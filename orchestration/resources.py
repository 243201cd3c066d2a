"""Dagster resources: the database, dbt, and the provider clients activation uses.

Provider resources hold typed configuration wired with `EnvVar`, so the UI shows
which variable a secret comes from and never its value. Activation itself reads a
`Settings`; `settings_overrides()` is how a resource hands its configuration to it,
which is also how tests swap a provider for a local fake (its base URL).
The notifier has a real implementation (Slack-compatible webhook) and a fake that
records messages in memory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource

from gdp import db as gdb
from gdp.dbt import dbt_command
from gdp.settings import Settings, env_name, get_settings


class PostgresResource(ConfigurableResource):
    """The project database; unset means the embedded server (started on first use)."""

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or gdb.database_url()


class ResendResource(ConfigurableResource):
    """Resend's API; with no key a real run stops the email channel (say --dry-run to preview)."""

    api_key: str | None = None
    api_base: str = "https://api.resend.com"
    email_from: str = "Growth <hello@example.com>"

    def settings_overrides(self) -> dict[str, Any]:
        return {"resend_api_key": self.api_key, "resend_api_base": self.api_base, "email_from": self.email_from}


class MetaResource(ConfigurableResource):
    """Meta's Graph API (Conversions API and Custom Audiences)."""

    access_token: str | None = None
    pixel_id: str | None = None
    graph_base: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    test_event_code: str | None = None

    def settings_overrides(self) -> dict[str, Any]:
        return {
            "meta_access_token": self.access_token,
            "meta_pixel_id": self.pixel_id,
            "meta_graph_base": self.graph_base,
            "meta_graph_version": self.graph_version,
            "meta_test_event_code": self.test_event_code,
        }


class NotifierResource(ConfigurableResource):
    """Posts operator notifications (held sends, failed checks) as Slack-compatible JSON."""

    webhook_url: str | None = None

    def notify(self, text: str) -> bool:
        if not self.webhook_url:
            return False
        response = httpx.post(self.webhook_url, json={"text": text}, timeout=10.0)
        response.raise_for_status()
        return True

    def settings_overrides(self) -> dict[str, Any]:
        return {"notify_webhook_url": self.webhook_url}


class FakeNotifierResource(NotifierResource):
    """Appends notifications to a file instead of posting them; for tests.

    A file, not a list in memory: Dagster re-creates resources for each run (and
    each run may be another process), so the test reads what the run wrote.
    """

    sink_path: str

    def notify(self, text: str) -> bool:
        with open(self.sink_path, "a", encoding="utf-8") as sink:
            sink.write(text.replace("\n", " ") + "\n")
        return True

    @property
    def sent(self) -> list[str]:
        path = Path(self.sink_path)
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def activation_settings(*resources: Any, base: Settings | None = None) -> Settings:
    """The Settings activation runs with: the environment's, overridden by the resources."""
    overrides: dict[str, Any] = {}
    for resource in resources:
        overrides.update(resource.settings_overrides())
    return dataclasses.replace(base or get_settings(), **overrides)


def default_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for deployment: every value from the environment through Settings."""
    from orchestration.project import gdp_dbt_project

    settings = settings or get_settings()
    defaults = Settings()

    def wire(attr: str) -> Any:
        field = next(f for f in dataclasses.fields(Settings) if f.name == attr)
        value = getattr(settings, attr)
        if value is not None and value != getattr(defaults, attr):
            return EnvVar(env_name(field.name))
        return value

    return {
        "postgres": PostgresResource(database_url=wire("database_url")),
        # The venv's dbt, found next to this interpreter: PATH may not include .venv/bin.
        "dbt": DbtCliResource(project_dir=gdp_dbt_project(settings), dbt_executable=dbt_command([])[0]),
        "resend": ResendResource(
            api_key=wire("resend_api_key"), api_base=wire("resend_api_base"), email_from=wire("email_from")
        ),
        "meta": MetaResource(
            access_token=wire("meta_access_token"),
            pixel_id=wire("meta_pixel_id"),
            graph_base=wire("meta_graph_base"),
            graph_version=wire("meta_graph_version"),
            test_event_code=wire("meta_test_event_code"),
        ),
        "notifier": NotifierResource(webhook_url=wire("notify_webhook_url")),
    }
