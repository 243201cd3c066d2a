"""Every setting the project reads from the environment, in one place.

Code asks `get_settings()` instead of calling `os.environ` so that the list of
variables in the README and the variables the code reads cannot drift apart.
Every value is checked when read (a bad number or a negative interval is refused
naming its variable); secrets are plain strings here, so `repr` masks them and
they must never be logged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class MissingSetting(RuntimeError):
    """Raised when a component that needs variables starts without them; names every one."""

    def __init__(self, name: str, purpose: str, *more: tuple[str, str]):
        missing = [(name, purpose), *more]
        if more:
            listed = "".join(f"\n  {n}: {p}" for n, p in missing)
            message = f"{len(missing)} settings are not set:{listed}\nSet them in the environment (see .env.example)."
        else:
            message = f"{name} is not set: {purpose}. Set it in the environment (see .env.example)."
        super().__init__(message)
        self.name = name
        self.names = [n for n, _ in missing]


class InvalidSetting(ValueError):
    """Raised when variables hold values the code cannot use; names every one."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid settings: " + "; ".join(problems))
        self.problems = problems


def _secret(env: str) -> dict:
    return {"env": env, "secret": True}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_name(attr: str) -> str:
    """The variable a setting is read from: its own name, or the alias that is set instead."""
    meta = next(f.metadata for f in fields(Settings) if f.name == attr)
    return next((n for n in (meta["env"], *meta.get("aliases", ())) if _env(n) is not None), meta["env"])


@dataclass(frozen=True)
class Settings:
    # Database and layout
    database_url: str | None = field(default=None, metadata=_secret("DATABASE_URL"))
    # Supabase's API URL (https://<ref>.supabase.co) and service-role key, for its admin API.
    # Not a database connection: SUPABASE_URL without DATABASE_URL is refused (gdp.db.database_url).
    supabase_url: str | None = field(default=None, metadata={"env": "SUPABASE_URL"})
    supabase_service_role_key: str | None = field(default=None, metadata=_secret("SUPABASE_SERVICE_ROLE_KEY"))
    data_dir: Path = field(default=REPO_ROOT / ".gdp", metadata={"env": "GDP_DATA_DIR"})
    dbt_schema: str = field(default="analytics", metadata={"env": "GDP_DBT_SCHEMA"})
    # Which engine builds the ported warehouse models (docs/spark.md): postgres, or spark
    # (the raw copy, then the spark target beside Postgres' own build); the Spark tables live
    # under spark_dir (default <data_dir>/spark), which profiles.yml reads as GDP_SPARK_DIR.
    warehouse: str = field(default="postgres", metadata={"env": "GDP_WAREHOUSE"})
    spark_dir: Path | None = field(default=None, metadata={"env": "GDP_SPARK_DIR"})
    # Ingest app
    max_body_bytes: int = field(default=1024 * 1024, metadata={"env": "GDP_MAX_BODY_BYTES"})
    # gunicorn's access log under `gdp serve`: off, errors (4xx/5xx only) or all. A line per
    # request cost ~8% of ingest throughput (75 µs a request), so it is off unless asked.
    access_log: str = field(default="off", metadata={"env": "GDP_ACCESS_LOG"})
    db_timeout_s: float = field(default=3.0, metadata={"env": "GDP_DB_TIMEOUT_S"})
    resend_webhook_secret: str | None = field(default=None, metadata=_secret("RESEND_WEBHOOK_SECRET"))
    stripe_webhook_secret: str | None = field(default=None, metadata=_secret("STRIPE_WEBHOOK_SECRET"))
    posthog_webhook_secret: str | None = field(default=None, metadata=_secret("POSTHOG_WEBHOOK_SECRET"))
    cal_webhook_secret: str | None = field(default=None, metadata=_secret("CAL_WEBHOOK_SECRET"))
    calendly_webhook_signing_key: str | None = field(default=None, metadata=_secret("CALENDLY_WEBHOOK_SIGNING_KEY"))
    tracking_link_secret: str | None = field(default=None, metadata=_secret("TRACKING_LINK_SECRET"))
    api_token: str | None = field(default=None, metadata=_secret("GDP_API_TOKEN"))
    public_base_url: str = field(default="http://127.0.0.1:8000", metadata={"env": "GDP_PUBLIC_BASE_URL"})
    tracking_domain: str | None = field(default=None, metadata={"env": "TRACKING_DOMAIN"})
    app_base_url: str = field(default="http://localhost:3000", metadata={"env": "APP_BASE_URL"})
    # Browser API: extra origins (comma-separated, e.g. https://www.example.com) allowed to call
    # /api/meta/capi and /api/identify with CORS; unset means same-origin only.
    allowed_origins: str | None = field(default=None, metadata={"env": "GDP_ALLOWED_ORIGINS"})
    # How many reverse proxies in front of the app to trust for X-Forwarded-For/-Proto/-Host (0 = none).
    trusted_proxies: int = field(default=0, metadata={"env": "GDP_TRUSTED_PROXIES"})
    # Per-IP rate limits of the public browser endpoints (requests per minute per IP and worker;
    # 0 = unlimited), the burst in seconds' worth of that rate, and IPs/CIDRs never limited
    # (see ingest_app/ratelimit.py).
    rate_limit_clicks_per_min: int = field(default=600, metadata={"env": "GDP_RATE_LIMIT_CLICKS_PER_MIN"})
    rate_limit_capi_per_min: int = field(default=120, metadata={"env": "GDP_RATE_LIMIT_CAPI_PER_MIN"})
    rate_limit_identify_per_min: int = field(default=60, metadata={"env": "GDP_RATE_LIMIT_IDENTIFY_PER_MIN"})
    rate_limit_snippet_per_min: int = field(default=300, metadata={"env": "GDP_RATE_LIMIT_SNIPPET_PER_MIN"})
    rate_limit_burst_s: float = field(default=10.0, metadata={"env": "GDP_RATE_LIMIT_BURST_S"})
    rate_limit_exempt: str | None = field(default=None, metadata={"env": "GDP_RATE_LIMIT_EXEMPT"})
    # PostHog query API (backfill)
    posthog_host: str = field(default="https://us.posthog.com", metadata={"env": "POSTHOG_HOST"})
    # The personal API key (phx_...) the query API needs; POSTHOG_API_KEY is the project key
    # (phc_..., what browsers and apps send events with), accepted for `pull` only when it
    # holds a personal key, with a warning (see posthog_query_key).
    posthog_personal_api_key: str | None = field(default=None, metadata=_secret("POSTHOG_PERSONAL_API_KEY"))
    posthog_api_key: str | None = field(default=None, metadata=_secret("POSTHOG_API_KEY"))
    posthog_project_id: str | None = field(default=None, metadata={"env": "POSTHOG_PROJECT_ID"})
    # Activation providers
    resend_api_key: str | None = field(default=None, metadata=_secret("RESEND_API_KEY"))
    resend_api_base: str = field(default="https://api.resend.com", metadata={"env": "RESEND_API_BASE"})
    email_from: str = field(default="Growth <hello@example.com>", metadata={"env": "GDP_EMAIL_FROM"})
    email_postal_address: str = field(default="Growth Data Plane, 1 Example Street, Springfield 00000", metadata={"env": "GDP_EMAIL_POSTAL_ADDRESS"})
    meta_access_token: str | None = field(default=None, metadata={**_secret("META_ACCESS_TOKEN"), "aliases": ("META_CAPI_ACCESS_TOKEN",)})
    meta_pixel_id: str | None = field(default=None, metadata={"env": "META_PIXEL_ID"})
    meta_graph_base: str = field(default="https://graph.facebook.com", metadata={"env": "META_GRAPH_BASE"})
    meta_graph_version: str = field(default="v21.0", metadata={"env": "META_GRAPH_VERSION"})
    meta_test_event_code: str | None = field(default=None, metadata={"env": "META_TEST_EVENT_CODE"})
    notify_webhook_url: str | None = field(default=None, metadata=_secret("GDP_NOTIFY_WEBHOOK_URL"))
    # Supabase Auth admin API (`gdp person forget` deletes the app account)
    supabase_url: str | None = field(default=None, metadata={"env": "SUPABASE_URL"})
    supabase_service_role_key: str | None = field(default=None, metadata=_secret("SUPABASE_SERVICE_ROLE_KEY"))
    # Activation behaviour (outbox workers)
    resend_requests_per_second: float = field(default=2.0, metadata={"env": "RESEND_REQUESTS_PER_SECOND"})
    resend_batch_size: int = field(default=100, metadata={"env": "RESEND_BATCH_SIZE"})
    meta_audience_ids: str | None = field(default=None, metadata={"env": "META_AUDIENCE_IDS"})  # name=id,name=id
    activation_max_attempts: int = field(default=8, metadata={"env": "GDP_ACTIVATION_MAX_ATTEMPTS"})
    activation_retry_base_s: float = field(default=30.0, metadata={"env": "GDP_ACTIVATION_RETRY_BASE_S"})
    provider_backoff_s: float = field(default=0.5, metadata={"env": "GDP_PROVIDER_BACKOFF_S"})  # in-call retry pause, doubled each try
    email_cap_per_day: int = field(default=1, metadata={"env": "GDP_EMAIL_CAP_PER_DAY"})
    email_cap_per_week: int = field(default=3, metadata={"env": "GDP_EMAIL_CAP_PER_WEEK"})
    default_deal_owner: str = field(default="sales", metadata={"env": "GDP_DEFAULT_DEAL_OWNER"})
    # Orchestration (Dagster)
    sensor_interval_s: int = field(default=3, metadata={"env": "GDP_SENSOR_INTERVAL_S"})
    check_match_quality_min: float = field(default=6.0, metadata={"env": "GDP_CHECK_MATCH_QUALITY_MIN"})
    # Segment ledger blast-radius guard: a cycle that moves more than this share of a segment
    # (segments of at least min_size members) or more than max persons is held for approval.
    blast_radius_share: float = field(default=0.5, metadata={"env": "GDP_BLAST_RADIUS_SHARE"})
    blast_radius_max: int = field(default=1000, metadata={"env": "GDP_BLAST_RADIUS_MAX"})
    blast_radius_min_size: int = field(default=20, metadata={"env": "GDP_BLAST_RADIUS_MIN_SIZE"})

    def __post_init__(self) -> None:
        problems = [p for f in fields(self) if (p := _out_of_bounds(f.name, f.metadata["env"], getattr(self, f.name)))]
        if problems:
            raise InvalidSetting(problems)

    def __repr__(self) -> str:
        shown = (f"{f.name}={'***' if f.metadata.get('secret') and getattr(self, f.name) else repr(getattr(self, f.name))}"
                 for f in fields(self))
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls) -> Settings:
        values, problems = {}, []
        for f in fields(cls):
            names = (f.metadata["env"], *f.metadata.get("aliases", ()))
            given = {n: _env(n) for n in names if _env(n) is not None}
            if len(set(given.values())) > 1:
                problems.append(f"{' and '.join(given)} are both set, to different values: they name the same setting; keep one")
                continue
            name = next(iter(given), f.metadata["env"])
            raw = given.get(name)
            if raw is None:
                continue
            try:
                if f.type in ("int", int):
                    values[f.name] = int(raw)
                elif f.type in ("float", float):
                    values[f.name] = float(raw)
                elif f.type in ("Path", Path, "Path | None"):
                    values[f.name] = Path(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                kind = "an integer" if f.type in ("int", int) else "a number"
                problems.append(f"{name} must be {kind}, got {raw!r}")
                continue
            if problem := _out_of_bounds(f.name, name, values[f.name]):
                problems.append(problem)
        if problems:
            raise InvalidSetting(problems)
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process (set values only)."""
        return {f.metadata["env"]: str(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) not in (None, "")}

    def spark_path(self) -> Path:
        """The local Spark warehouse's folder (tables and Derby catalog)."""
        return self.spark_dir or self.data_dir / "spark"

    def posthog_query_key(self) -> tuple[str, str | None]:
        """The key for PostHog's query API, and a warning when it came from the old variable."""
        if self.posthog_personal_api_key:
            return self.posthog_personal_api_key, None
        old = self.posthog_api_key or ""
        if old.startswith("phc_"):
            raise MissingSetting("POSTHOG_PERSONAL_API_KEY", "POSTHOG_API_KEY holds the project key (phc_...), which cannot "
                                 "read the query API; gdp posthog pull needs a personal API key (phx_...) with query read access")
        if old:
            return old, "POSTHOG_API_KEY as the personal key is deprecated: rename it POSTHOG_PERSONAL_API_KEY (POSTHOG_API_KEY is the project key)"
        raise MissingSetting("POSTHOG_PERSONAL_API_KEY", "gdp posthog pull authenticates to PostHog's query API with it")

    def require(self, attr: str, purpose: str) -> str:
        self.require_all({attr: purpose})
        return getattr(self, attr)

    def require_all(self, needed: dict[str, str]) -> None:
        """`MissingSetting` naming every unset variable of `needed` (attribute -> why it is needed)."""
        env = {f.name: f.metadata["env"] for f in fields(self)}
        missing = [(env[attr], purpose) for attr, purpose in needed.items() if not getattr(self, attr)]
        if missing:
            raise MissingSetting(*missing[0], *missing[1:])


# Numeric settings that must be above zero; every other number must be 0 or more.
_POSITIVE = frozenset({
    "max_body_bytes", "db_timeout_s", "resend_batch_size",
    "activation_max_attempts", "sensor_interval_s",
})
_AT_MOST_ONE = frozenset({"blast_radius_share"})


_CHOICES = {"access_log": ("off", "errors", "all"), "warehouse": ("postgres", "spark")}


def _out_of_bounds(attr: str, env: str, value: object) -> str | None:
    if attr in _CHOICES and value not in _CHOICES[attr]:
        return f"{env} must be one of {', '.join(_CHOICES[attr])}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return f"{env} must be a finite number, got {value}"
    if attr in _POSITIVE and value <= 0:
        return f"{env} must be greater than 0, got {value}"
    if value < 0:
        return f"{env} must be 0 or more, got {value}"
    if attr in _AT_MOST_ONE and value > 1:
        return f"{env} must be at most 1 (a share), got {value}"
    return None


WEBHOOK_ENV = re.compile(r"^GDP_WEBHOOK_[A-Z0-9_]+$")


def webhook_env(name: str) -> str | None:
    """A variable a segment's webhook activation names (`url_env`, `secret_env`), read at send time.

    Only `GDP_WEBHOOK_*` names: a segment's YAML is an analyst's pull request and must
    not be able to point a webhook at another secret (or at DATABASE_URL).
    """
    if not WEBHOOK_ENV.match(name or ""):
        raise ValueError(f"{name!r} is not a webhook variable: url_env and secret_env must be GDP_WEBHOOK_<NAME>")
    return _env(name)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
