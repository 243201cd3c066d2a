"""One activation pass: ledger → outbox, then each channel works what is due.

`activate()` is what `gdp activate`, `python -m activation` and the Dagster
assets call. Dry-run is asked for, never assumed: with `dry_run=True` every
channel renders and records what it would send (status `dry_run`) and calls
nobody, and those rows stay open, so the next keyed run sends them. In a real
run a channel that has work but no provider key stops with an error naming the
variable (the other channels go on), and its work waits in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from activation import audiences, capi, emails, outbound, webhook
from activation.outbox import ActivationReport, Run, cancel_forgotten
from activation.plan import plan_transitions
from gdp import db as gdb
from gdp.settings import MissingSetting, Settings, get_settings

CHANNELS = ("outbound_sequences", "resend_emails", "meta_audiences", "meta_capi_events", "webhooks")
_WORKERS = {
    "outbound_sequences": outbound.work,
    "resend_emails": emails.work,
    "meta_audiences": audiences.work,
    "meta_capi_events": capi.work,
    "webhooks": webhook.work,
}


class ActivationError(RuntimeError):
    """A channel stopped (e.g. its provider key is missing); the report says what the others did."""

    def __init__(self, report: ActivationReport):
        super().__init__("; ".join(f"{channel}: {why}" for channel, why in sorted(report.errors.items())))
        self.report = report


def dry_run_channels(settings: Settings, forced: bool | None) -> dict[str, bool]:
    """Which channels only preview: all of them when asked (`--dry-run`), none otherwise."""
    return {c: bool(forced) for c in (*CHANNELS, "notify_human")}


def activate(
    database_url: str | None = None,
    *,
    channels: Iterable[str] | None = None,
    dry_run: bool | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
    cycle_id: str | None = None,
    now: datetime | None = None,
) -> ActivationReport:
    """Process what is pending once and report what happened; ActivationError when a channel stopped.

    `cycle_id` (a Dagster run id): the ledger is planned once for that run, by whichever
    activation asset comes first. `now` is the clock for due times and caps (tests).
    """
    settings = settings or get_settings()
    url = database_url or gdb.database_url(settings)
    wanted = list(channels or CHANNELS)
    unknown = sorted(set(wanted) - set(CHANNELS))
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(unknown)}; choose from {', '.join(CHANNELS)}")
    report = ActivationReport()
    flags = dry_run_channels(settings, dry_run)
    report.dry_run_channels = sorted(c for c in wanted if flags.get(c))
    run = Run(url=url, settings=settings, report=report, dry_run=flags, progress=progress or (lambda message: None), now=now)
    plan_transitions(run, cycle_id=cycle_id)
    cancel_forgotten(run)
    for channel in CHANNELS:
        if channel in wanted:
            run.progress(f"{channel}: working")
            try:
                _WORKERS[channel](run)
            except MissingSetting as exc:
                report.errors[channel] = str(exc)
    if report.errors:
        raise ActivationError(report)
    return report
