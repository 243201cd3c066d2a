"""The membership ledger and the activation channels, downstream of the dbt segments.

The ledger asset records this run's transitions under the run id as the cycle id,
so a retried run (same id) adds nothing. Blocking checks on the ledger (checks.py)
run before any activation asset, so a failing check stops this run's sends.
Each activation asset works one channel of activation.outbox once and reports
what it did, plus p50/p95 qualification → send for its channel.
"""


import dataclasses
from typing import Any

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from gdp.settings import get_settings
from orchestration.dbt_assets import model_keys_in_layer, model_keys_under, segment_activation_channels
from orchestration.resources import (
    MetaResource,
    NotifierResource,
    PostgresResource,
    ResendResource,
    activation_settings,
)

LEDGER_KEY = AssetKey("membership_ledger")

# Activation asset → outbox channel(s) it works, for its latency figure.
ACTIVATION_CHANNELS: dict[str, tuple[str, ...]] = {
    "resend_emails": ("email",),
    "meta_capi_events": ("meta_capi",),
    "meta_audiences": ("meta_audience",),
    "outbound_sequences": ("email", "notify_human", "tag_objection"),
    "webhooks": ("webhook",),
}
# Activation asset → the outbox channels only it sends (sequence emails go out through resend_emails),
# so a stuck row warns on the asset that works it.
OUTBOX_CHANNELS_WORKED: dict[str, tuple[str, ...]] = {
    "resend_emails": ("email",),
    "meta_capi_events": ("meta_capi",),
    "meta_audiences": ("meta_audience",),
    "outbound_sequences": ("notify_human", "tag_objection", "outbound"),
    "webhooks": ("webhook",),
}


def _plain(value: Any) -> Any:
    """Metadata-friendly form of a result object (dataclass, dict, counter...)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def ledger_metadata(result: Any) -> dict[str, Any]:
    """What the UI shows for a ledger cycle: totals, held segments, per-segment changes."""
    segments = getattr(result, "segments", {}) or {}
    return {
        "cycle_id": MetadataValue.text(str(result.cycle_id)),
        "already_recorded": MetadataValue.bool(bool(getattr(result, "already_recorded", False))),
        "entered": int(result.entered),
        "exited": int(result.exited),
        "merged": int(result.merged),
        "held_segments": MetadataValue.json(sorted(name for name, c in segments.items() if c.is_held)),
        "segments": MetadataValue.json(_plain(segments)),
    }


def activation_metadata(report: Any) -> dict[str, Any]:
    """Counts by channel/status, dry-run channels and notes from an ActivationReport."""
    counts = {f"{channel}/{status}": n for (channel, status), n in sorted(report.counts.items())}
    return {
        "planned_actions": int(report.planned),
        "sent": int(report.total(status="sent")),
        "counts": MetadataValue.json(counts),
        "dry_run_channels": MetadataValue.json(list(report.dry_run_channels)),
        "notes": MetadataValue.json(list(report.notes)),
    }

def ledger_asset(extra_deps: tuple[AssetKey, ...] = ()):
    """The ledger asset; with the Spark warehouse it also waits for the segment_member sync
    (orchestration/spark_assets.py), so it diffs the segments Spark built."""

    @asset(
        key=LEDGER_KEY,
        deps=[*model_keys_in_layer("segments"), *extra_deps],
        group_name="activation",
        kinds={"postgres"},
        description="Diffs analytics.segment_member against the last recorded membership and appends "
        "entered/exited/merged transitions to activation.membership_transition (cycle id = run id).",
    )
    def membership_ledger(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
        from ledger.membership import record_cycle

        result = record_cycle(postgres.url(), context.run_id, dbt_schema=get_settings().dbt_schema)
        return MaterializeResult(metadata=ledger_metadata(result))

    return membership_ledger


membership_ledger = ledger_asset()


def _latency_metadata(url: str, channels: tuple[str, ...], cycle_id: str) -> dict[str, Any]:
    from activation.latency import latency

    metadata: dict[str, Any] = {}
    for channel in channels:
        for scope, kwargs in (("cycle", {"cycle_id": cycle_id}), ("all_time", {})):
            report = latency(url, channel=channel, include_dry_run=True, **kwargs)[0]
            if report.count:
                metadata[f"latency_{channel}_{scope}_p50_s"] = round(report.p50_s, 2)
                metadata[f"latency_{channel}_{scope}_p95_s"] = round(report.p95_s, 2)
                metadata[f"latency_{channel}_{scope}_n"] = report.count
    return metadata


# Activation asset → the segment activation channels (segment YAML `activations[].channel`) it acts on.
SEGMENT_CHANNELS: dict[str, tuple[str, ...]] = {
    "resend_emails": ("email",),
    "meta_audiences": ("meta_audience",),
    "outbound_sequences": ("outbound", "notify_human", "tag_objection", "stop_sequences", "suppress"),
    "webhooks": ("webhook",),
}


def segments_acting_through(name: str) -> list[AssetKey]:
    """The segments whose activations name this asset's channels: drawn as its parents, so the UI shows
    which segment drives which channel (the ledger alone would join every segment into one node)."""
    wanted = set(SEGMENT_CHANNELS.get(name, ()))
    return sorted((key for key, channels in segment_activation_channels().items() if channels & wanted),
                  key=lambda key: key.to_user_string())


def activation_asset(name: str, description: str):
    channels = ACTIVATION_CHANNELS[name]

    # The activation-facing marts say whom it may reach and how (models/marts/activation/).
    deps = [LEDGER_KEY, *model_keys_under("marts/activation"), *segments_acting_through(name)]

    @asset(name=name, deps=deps, group_name="activation", kinds={"python"}, description=description)
    def _activation(
        context: AssetExecutionContext,
        postgres: PostgresResource,
        resend: ResendResource,
        meta: MetaResource,
        notifier: NotifierResource,
    ) -> MaterializeResult:
        from activation.runner import activate

        url = postgres.url()
        # The run id is the ledger's cycle id: the first activation asset of the run plans it, once.
        report = activate(url, channels=[name], settings=activation_settings(resend, meta, notifier), cycle_id=context.run_id)
        metadata = activation_metadata(report)
        metadata.update(_latency_metadata(url, channels, context.run_id))
        return MaterializeResult(metadata=metadata)

    return _activation


resend_emails = activation_asset(
    "resend_emails", "Emails for segment transitions with an email activation, sent through Resend (idempotent per outbox key)."
)
meta_capi_events = activation_asset(
    "meta_capi_events", "Queued conversion events delivered to Meta's Conversions API in batches of up to 1,000."
)
meta_audiences = activation_asset(
    "meta_audiences", "Custom Audience membership: add on segment entry, remove on exit (only persons this system added)."
)
outbound_sequences = activation_asset(
    "outbound_sequences", "Outbound sequence enrollment and due steps; stop conditions; route-to-human notifications."
)

webhooks = activation_asset(
    "webhooks", "Enter/exit webhooks of segments with a webhook activation, signed the Standard Webhooks way (webhook-id = outbox key)."
)

ACTIVATION_ASSETS = [resend_emails, meta_capi_events, meta_audiences, outbound_sequences, webhooks]
