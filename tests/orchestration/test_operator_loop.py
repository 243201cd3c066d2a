"""The operator's loop in Dagster: the clock's job, the sensor's first cursor, dead-row checks,
segments grouped by funnel with owners and lineage to their channels, and no failing check on
a fresh install (the real Definitions on a fresh database)."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from orchestration.checks import dead_rows_check
from orchestration.definitions import build_definitions, defs
from orchestration.jobs import CLOCK_CYCLE, REFRESH_AND_ACTIVATE
from orchestration.resources import FakeNotifierResource, MetaResource, PostgresResource, ResendResource
from orchestration.schedules import every_five_minutes
from orchestration.sensors import raw_landing_sensor
from orchestration.watermarks import last_cycle_marks, raw_high_water_marks, record_cycle_marks
from tests.dbt_helpers import private_database

ACTIVATIONS = ["resend_emails", "meta_capi_events", "meta_audiences", "outbound_sequences", "webhooks"]


def _keys(keys) -> set[str]:
    return {k.to_user_string() for k in keys}


# --- the 5-minute schedule runs only what the clock changes ------------------------------


def test_clock_job_runs_time_based_segments_the_ledger_and_activation_not_a_full_build():
    repo = defs.get_repository_def()
    assert every_five_minutes.job_name == CLOCK_CYCLE
    selected = _keys(repo.get_job(CLOCK_CYCLE).asset_layer.selected_asset_keys)
    assert {"person_features", "new_signup_no_activation_24h", "checkout_started_no_purchase_4h", "lost",
            "membership_ledger", *ACTIVATIONS} <= selected
    # Nothing the clock cannot change: no staging, identity or event rebuild, no event-driven segment.
    assert not {"event", "person", "stg_resend__events", "won", "proposal_sent", "replied_positive"} & selected
    # The one intermediate the clock moves: the 1/7/30-day window counts person_features reads.
    assert {k for k in selected if k.startswith(("stg_", "int_"))} == {"int_persons__event_windows"}
    full = _keys(repo.get_job(REFRESH_AND_ACTIVATE).asset_layer.selected_asset_keys)
    assert len(selected) < len(full) / 3


def test_schedule_and_sensor_never_overlap_a_clock_run(database_url, clean_raw):
    with instance_for_test() as instance:
        create_run_for_test(instance, job_name=CLOCK_CYCLE, status=DagsterRunStatus.STARTED)
        skipped = every_five_minutes(build_schedule_context(instance=instance))
        assert isinstance(skipped, SkipReason) and "never overlap" in skipped.skip_message
        clean_raw.execute("insert into raw.resend_event (svix_id, event_type, payload) values (%s, 'email.sent', '{}')",
                          (f"msg_{uuid.uuid4().hex}",))
        context = build_sensor_context(instance=instance, cursor=json.dumps({}),
                                       resources={"postgres": PostgresResource(database_url=database_url)})
        result = raw_landing_sensor(context)
        assert isinstance(result, SkipReason) and "in progress" in result.skip_message


# --- the sensor starts where the last cycle left off ------------------------------------


def _land(url: str, table: str = "resend_event") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if table == "resend_event":
            conn.execute("insert into raw.resend_event (svix_id, event_type, payload) values (%s, 'email.sent', '{}')",
                         (f"msg_{uuid.uuid4().hex}",))
        else:
            conn.execute("insert into raw.stripe_event (stripe_event_id, event_type, payload) values (%s, 'customer.created', '{}')",
                         (f"evt_{uuid.uuid4().hex}",))


def _tick(instance, url, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"postgres": PostgresResource(database_url=url)})
    return raw_landing_sensor(context), context


def _succeeded_cycle(url: str, marks: dict[str, int]) -> None:
    cycle_id = f"cycle-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into activation.pipeline_cycle (cycle_id, status, finished_at) values (%s, 'succeeded', now())", (cycle_id,))
    record_cycle_marks(url, cycle_id, marks)


def test_sensor_first_start_begins_at_the_last_cycles_marks(server_url):
    with private_database(server_url) as url, DagsterInstance.ephemeral() as instance:
        _land(url)
        _land(url, "stripe_event")
        # No cycle has recorded marks yet: everything landed is new.
        assert last_cycle_marks(url) is None
        result, _ = _tick(instance, url)
        assert isinstance(result, RunRequest)

        # The demo / `gdp refresh` built from these rows: a first start has nothing to do.
        _succeeded_cycle(url, raw_high_water_marks(url))
        result, context = _tick(instance, url)
        assert isinstance(result, SkipReason) and "No new rows" in result.skip_message
        assert json.loads(context.cursor) == raw_high_water_marks(url)

        # A row landing after that cycle: only it launches a run.
        _land(url)
        result, context = _tick(instance, url)
        assert isinstance(result, RunRequest) and result.tags["gdp/new_rows"] == "resend_event +1"

        # A cursor the sensor already keeps wins over the recorded cycle.
        result, _ = _tick(instance, url, json.dumps({}))
        assert isinstance(result, RunRequest) and "stripe_event +1" in result.tags["gdp/new_rows"]


# --- dead outbox rows warn --------------------------------------------------------------


def test_dead_rows_warn_with_counts_per_channel_and_segment(server_url):
    with private_database(server_url) as url:
        check = dead_rows_check("outbound_sequences", ("notify_human", "tag_objection", "outbound"))
        postgres = PostgresResource(database_url=url)
        healthy = check(postgres=postgres)
        assert healthy.passed and healthy.description == "No dead rows."
        with psycopg.connect(url, autocommit=True) as conn:
            for i, (channel, status, segment) in enumerate([
                ("notify_human", "dead", "replied_positive"), ("notify_human", "dead", "no_show"),
                ("tag_objection", "dead", "replied_negative"), ("notify_human", "failed", "no_show"),
                ("email", "dead", "no_show"),  # resend_emails' row, not this asset's
            ]):
                conn.execute("insert into activation.outbox (outbox_key, channel, status, segment) values (%s, %s, %s, %s)",
                             (f"k{i}", channel, status, segment))
        result = check(postgres=postgres)
        assert not result.passed and result.severity == AssetCheckSeverity.WARN
        assert result.metadata["dead_rows"].value == 3
        assert result.metadata["dead_per_channel"].value == {"notify_human": 2, "tag_objection": 1, "outbound": 0}
        assert result.metadata["dead_per_segment"].value == {"no_show": 1, "replied_negative": 1, "replied_positive": 1}
        assert "gdp outbox list --status dead --channel notify_human" in result.description


def test_every_activation_asset_has_a_dead_rows_check():
    graph = defs.get_repository_def().asset_graph
    names = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {(a, "dead_outbox_rows") for a in ACTIVATIONS} <= names


# --- segments in the asset graph ----------------------------------------------------------


def test_segments_grouped_by_funnel_with_owners_and_lineage_to_their_channels():
    graph = defs.get_repository_def().asset_graph
    signup = graph.get(AssetKey("new_signup_no_activation_24h"))
    assert signup.group_name == "segments_newsletter" and signup.owners == ["team:growth"]
    won = graph.get(AssetKey("won"))
    assert won.group_name == "segments_outbound" and won.owners == ["team:sales"]
    assert graph.get(AssetKey("segment_member")).group_name == "segments"

    # Each segment's path to its channels: email segments feed resend_emails, audience segments meta_audiences.
    parents = {name: _keys(graph.get(AssetKey(name)).parent_keys) for name in ACTIVATIONS}
    assert "new_signup_no_activation_24h" in parents["resend_emails"]
    assert "new_signup_no_activation_24h" not in parents["meta_audiences"]  # email only
    assert {"high_intent_pricing_2plus_not_paid", "checkout_started_no_purchase_4h"} <= parents["meta_audiences"]
    assert "won" in parents["outbound_sequences"] and "won" not in parents["resend_emails"]
    assert not any(p in parents["meta_capi_events"] for p in ("won", "new_signup_no_activation_24h"))
    for name in ACTIVATIONS:
        assert "membership_ledger" in parents[name]


# --- a fresh install ----------------------------------------------------------------------


@pytest.mark.slow
def test_no_check_fails_on_a_fresh_install_and_the_sensor_starts_after_gdp_refresh(server_url, tmp_path):
    """The real Definitions, one full run on a fresh, migrated, empty database: every check passes
    (or says it does not apply yet). Then `gdp refresh`'s cycle: the sensor's first tick has nothing to do."""
    from orchestration.cycle import run_cycle

    with private_database(server_url) as url:
        job_defs = build_definitions(resources={
            "postgres": PostgresResource(database_url=url),
            "resend": ResendResource(),
            "meta": MetaResource(),
            "notifier": FakeNotifierResource(sink_path=str(tmp_path / "notify.txt")),
        })
        with DagsterInstance.ephemeral() as instance:
            result = job_defs.resolve_job_def(REFRESH_AND_ACTIVATE).execute_in_process(instance=instance, raise_on_error=False)
            assert result.success
            evaluations = result.get_asset_check_evaluations()
            failed = {(e.asset_key.to_user_string(), e.check_name): e.description for e in evaluations if not e.passed}
            assert failed == {}
            by_name = {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}
            assert "Does not apply yet" in by_name[("raw/unsubscribe", "freshness")].description
            assert "Does not apply yet" in by_name[("meta_capi_events", "meta_match_quality")].description
            assert by_name[("webhooks", "dead_outbox_rows")].passed
            assert len(evaluations) > 20

            _land(url)
            cycle = run_cycle(url)
            assert cycle.ok, cycle.summary()
            tick, context = _tick(instance, url)
            assert isinstance(tick, SkipReason) and "No new rows" in tick.skip_message
            assert json.loads(context.cursor)["resend_event"] == raw_high_water_marks(url)["resend_event"]


# --- match quality: website events are held to the minimum, server-side ones reported -------


def test_match_quality_holds_website_events_to_the_minimum_and_only_reports_server_side(server_url):
    from orchestration.checks import meta_match_quality

    full = {"em": ["a" * 64], "ph": ["b" * 64], "external_id": ["c" * 64], "fbc": "fb.1.1.x", "fbp": "fb.1.1.y",
            "client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0"}
    server = {"em": ["a" * 64], "external_id": ["c" * 64]}  # all a server-side conversion can carry here
    with private_database(server_url) as url:
        postgres = PostgresResource(database_url=url)

        def add(key: str, source: str, user_data: dict) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("insert into activation.outbox (outbox_key, channel, status, payload) values (%s, 'meta_capi', 'sent', %s)",
                             (key, json.dumps({"action_source": source, "user_data": user_data})))

        for i in range(5):
            add(f"srv{i}", "system_generated", server)
        only_server = meta_match_quality(postgres=postgres)
        assert only_server.passed and only_server.description.startswith("Does not apply yet")
        assert only_server.metadata["server_side_events"].value == 5
        assert only_server.metadata["server_side_estimated_match_quality"].value == 4.0  # under 6 by construction

        for i in range(5):
            add(f"web{i}", "website", full)
        good = meta_match_quality(postgres=postgres)
        assert good.passed and good.metadata["estimated_match_quality"].value == 10.0 and good.metadata["events"].value == 5

        for i in range(20):
            add(f"anon{i}", "website", {"client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0"})
        poor = meta_match_quality(postgres=postgres)
        assert not poor.passed and poor.severity == AssetCheckSeverity.WARN
        assert poor.metadata["estimated_match_quality"].value == 3.6  # (5 × 10 + 20 × 2) / 25
