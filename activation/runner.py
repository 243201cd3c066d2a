"""One activation pass: ledger → outbox, then each channel works what is due.

`activate()` is what `gdp activate`, `python -m activation` and the Dagster
assets call. A channel without provider credentials runs in dry-run: it records
and renders what it would send (status `dry_run`) and calls nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from activation import audiences, capi, emails, outbound
from activation.outbox import ActivationReport, Run, cancel_forgotten
from activation.plan import plan_transitions
from gdp import db as gdb
from gdp.settings import Settings, get_settings

CHANNELS = ("outbound_sequences", "resend_emails", "meta_audiences", "meta_capi_events")
_WORKERS = {
    "outbound_sequences": outbound.work,
    "resend_emails": emails.work,
    "meta_audiences": audiences.work,
    "meta_capi_events": capi.work,
}


def dry_run_channels(settings: Settings, forced: bool | None) -> dict[str, bool]:
    if forced:
        return {c: True for c in (*CHANNELS, "notify_human")}
    return {
        "resend_emails": not settings.resend_api_key,
        "meta_capi_events": not (settings.meta_access_token and settings.meta_pixel_id),
        "meta_audiences": not settings.meta_access_token,
        "outbound_sequences": False,
        "notify_human": not settings.notify_webhook_url,
    }


def activate(
    database_url: str | None = None,
    *,
    channels: Iterable[str] | None = None,
    dry_run: bool | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> ActivationReport:
    """Process what is pending once and report what happened."""
    settings = settings or get_settings()
    url = database_url or gdb.database_url(settings)
    wanted = list(channels or CHANNELS)
    unknown = sorted(set(wanted) - set(CHANNELS))
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(unknown)}; choose from {', '.join(CHANNELS)}")
    report = ActivationReport()
    flags = dry_run_channels(settings, dry_run)
    report.dry_run_channels = sorted(c for c in wanted if flags.get(c))
    run = Run(url=url, settings=settings, report=report, dry_run=flags, progress=progress or (lambda message: None))
    plan_transitions(run)
    cancel_forgotten(run)
    for channel in CHANNELS:
        if channel in wanted:
            run.progress(f"{channel}: working")
            _WORKERS[channel](run)
    return report
