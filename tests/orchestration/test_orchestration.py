"""Dagster definitions: they load, the graph runs raw → … → activation, the sensor
and schedule decide right, and the pure pieces (dbt args, layers, checks' maths)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from activation.match_quality import estimate_match_quality
from orchestration.checks import evaluate_freshness
from orchestration.dbt_assets import build_dbt_args, layer_of
from orchestration.definitions import defs
from orchestration.jobs import REFRESH_AND_ACTIVATE
from orchestration.resources import PostgresResource
from orchestration.schedules import every_five_minutes
from orchestration.sensors import decide, raw_high_water_marks, raw_landing_sensor

ACTIVATIONS = ["resend_emails", "meta_capi_events", "meta_audiences", "outbound_sequences", "webhooks"]


# --- definitions -------------------------------------------------------------------------


def test_defs_load_and_validate():
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    assert repo.get_job(REFRESH_AND_ACTIVATE)
    # Below the daemon's 5 s sensor loop, so new rows are seen on the next loop.
    assert repo.get_sensor_def("raw_landing_sensor").minimum_interval_seconds <= 5
    assert repo.get_schedule_def("every_five_minutes").cron_schedule == "*/5 * * * *"


def test_graph_runs_from_raw_sources_through_segments_to_each_activation():
    graph = defs.get_repository_def().asset_graph
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw/resend_event", "raw/stripe_event", "event", "segment_member", "membership_ledger", *ACTIVATIONS} <= keys

    for name in ACTIVATIONS:
        # Plus the segments whose activations name the channel (tests/orchestration/test_operator_loop.py).
        assert graph.get(AssetKey(name)).parent_keys >= {
            AssetKey("membership_ledger"), AssetKey("activation_recipient"), AssetKey("activation_holdout"),
            AssetKey("activation_meta_conversion"), AssetKey("activation_meta_user")}
        assert graph.get(AssetKey(name)).group_name == "activation"
    assert AssetKey("segment_member") in graph.get(AssetKey("membership_ledger")).parent_keys

    # segment_member reaches back to raw through the marts.
    def ancestors(key, seen=None):
        seen = set() if seen is None else seen
        for parent in graph.get(key).parent_keys:
            if parent not in seen:
                seen.add(parent)
                ancestors(parent, seen)
        return seen

    upstream = {key.to_user_string() for key in ancestors(AssetKey("resend_emails"))}
    assert {"raw/resend_event", "event", "segment_member"} <= upstream

    groups = {graph.get(AssetKey.from_user_string(k)).group_name for k in ("raw/resend_event", "stg_resend__events", "event", "segment_member")}
    assert groups == {"sources", "staging", "marts", "segments"}
    assert any(graph.get(key).group_name == "intermediate" for key in graph.get_all_asset_keys())


def test_lineage_runs_from_each_segment_into_segment_member():
    """Segments' post-hooks write segment_member: Dagster draws segment → segment_member, never the reverse."""
    graph = defs.get_repository_def().asset_graph
    segments = {key for key in graph.get_all_asset_keys() if (graph.get(key).group_name or "").startswith("segments_")}
    assert {AssetKey("won"), AssetKey("bounced_complained"), AssetKey("new_signup_no_activation_24h")} <= segments
    member_parents = graph.get(AssetKey("segment_member")).parent_keys
    assert segments <= member_parents
    for key in segments:
        assert AssetKey("segment_member") not in graph.get(key).parent_keys, key.to_user_string()
    assert AssetKey("person_features") in graph.get(AssetKey("won")).parent_keys


def test_segment_member_is_reported_after_the_segments_dbt_built_after_it():
    from dagster import AssetCheckResult, Output

    from orchestration.dbt_assets import segment_member_after_segments

    events = [
        Output(None, output_name="segment_member"),
        AssetCheckResult(asset_key=AssetKey("segment_member"), check_name="not_null_segment_member_person_id", passed=True),
        Output(None, output_name="won"),
        AssetCheckResult(asset_key=AssetKey("won"), check_name="unique_won_person_id", passed=True),
    ]
    reordered = list(segment_member_after_segments(iter(events)))
    assert reordered == [events[2], events[3], events[0], events[1]]


def test_blocking_checks_sit_on_the_ledger():
    graph = defs.get_repository_def().asset_graph
    ledger_checks = {
        key.name: graph.get_check_spec(key).blocking
        for key in graph.asset_check_keys
        if key.asset_key == AssetKey("membership_ledger")
    }
    assert ledger_checks == {"blast_radius_guard": True}
    check_names = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    # The data guards are the cycle's dbt tests, shown on the models they test (not re-implemented here).
    assert ("event", "assert_every_raw_row_captured") in check_names
    assert ("int_identity__quarantine", "assert_identity_quarantine_under_limit") in check_names
    assert ("int_identity__components", "assert_identity_components_converged") in check_names
    assert ("segment_member", "unique_combination_segment_member_segment__person_id") in check_names
    # Full-history tests run nightly, not as checks of every cycle.
    assert not [name for _, name in check_names if name.startswith("relationships_event_person_id")]
    assert ("raw/resend_event", "freshness") in check_names
    assert ("meta_capi_events", "meta_match_quality") in check_names


# --- pure pieces -----------------------------------------------------------------------


def test_build_dbt_args():
    base = ["build", "--exclude-resource-type", "unit_test"]
    assert build_dbt_args() == base
    assert build_dbt_args(full_refresh=True) == [*base, "--full-refresh"]
    assert build_dbt_args(extra_vars={"b": 2, "a": 1}) == [*base, "--vars", '{"a": 1, "b": 2}']


@pytest.mark.parametrize(
    "props, layer",
    [
        ({"resource_type": "source", "fqn": ["gdp", "staging", "resend", "resend", "resend_event"]}, "sources"),
        ({"resource_type": "seed", "fqn": ["gdp", "event_type_map"]}, "seeds"),
        ({"resource_type": "model", "fqn": ["gdp", "staging", "resend", "stg_resend__events"]}, "staging"),
        ({"resource_type": "model", "fqn": ["gdp", "intermediate", "identity", "x"]}, "intermediate"),
        ({"resource_type": "model", "fqn": ["gdp", "marts", "event"]}, "marts"),
        ({"resource_type": "model", "fqn": ["gdp", "segments", "newsletter", "booked_call"]}, "segments"),
        ({"resource_type": "model", "fqn": ["gdp", "odd_one"]}, "other"),
    ],
)
def test_layer_of(props, layer):
    assert layer_of(props) == layer


def test_estimated_match_quality_is_0_to_10():
    keys = ["em", "ph", "external_id", "fbc", "fbp", "client_ip_address", "client_user_agent"]
    assert estimate_match_quality({k: 1.0 for k in keys}) == 10.0
    assert estimate_match_quality({}) == 0.0
    assert estimate_match_quality({"em": 1.0}) == 3.0
    assert estimate_match_quality({"em": 0.5, "fbp": 1.0}) == 2.5


def test_freshness_applies_dbt_warn_and_error_after():
    rule = {"warn_after": {"count": 24, "period": "hour"}, "error_after": {"count": 72, "period": "hour"}}
    assert evaluate_freshness(3600, rule)[0] is True
    assert evaluate_freshness(30 * 3600, rule)[:2] == (False, AssetCheckSeverity.WARN)
    assert evaluate_freshness(80 * 3600, rule)[:2] == (False, AssetCheckSeverity.ERROR)
    passed, _, description = evaluate_freshness(None, rule)  # no row ever: does not apply yet
    assert passed and description.startswith("Does not apply yet")
    assert evaluate_freshness(10**9, {})[0] is True


def test_decide_without_a_database():
    assert decide({"a": 3}, json.dumps({"a": 3}), None).run_request is None
    moved = decide({"a": 4, "b": 1}, json.dumps({"a": 3}), None)
    assert moved.run_request is not None and json.loads(moved.cursor) == {"a": 4, "b": 1}
    assert "a +1, b +1" in moved.run_request.tags["gdp/new_rows"]
    blocked = decide({"a": 4}, json.dumps({"a": 3}), "abcdef123456")
    assert blocked.run_request is None and blocked.cursor is None and "abcdef12" in blocked.skip_reason


# --- sensor and schedule against the test database ---------------------------------------


def _land_resend(conn, n: int = 1) -> None:
    for _ in range(n):
        conn.execute(
            "insert into raw.resend_event (svix_id, event_type, payload) values (%s, 'email.sent', '{}'::jsonb)",
            (f"msg_{uuid.uuid4().hex}",),
        )


def _tick(instance, database_url, cursor):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"postgres": PostgresResource(database_url=database_url)}
    )
    return raw_landing_sensor(context), context


def test_sensor_no_new_data_new_data_and_run_in_progress(clean_raw, database_url):
    conn = clean_raw
    with DagsterInstance.ephemeral() as instance:
        # Nothing ever landed: skip, and say why.
        result, context = _tick(instance, database_url, None)
        assert isinstance(result, SkipReason) and "No new rows" in result.skip_message

        # Rows land: one run, cursor moves to the new high-water mark.
        _land_resend(conn, 2)
        result, context = _tick(instance, database_url, None)
        assert isinstance(result, RunRequest)
        assert "resend_event +" in result.tags["gdp/new_rows"]
        cursor = context.cursor
        assert json.loads(cursor)["resend_event"] == raw_high_water_marks(database_url)["resend_event"]
        assert set(json.loads(cursor)) >= {"resend_event", "stripe_event", "meta_capi_event", "click"}

        # Same marks: nothing new.
        result, _ = _tick(instance, database_url, cursor)
        assert isinstance(result, SkipReason) and "No new rows" in result.skip_message

        # New rows while a run is in progress: skipped with the reason, cursor kept.
        _land_resend(conn, 1)
        run = create_run_for_test(instance, job_name=REFRESH_AND_ACTIVATE, status=DagsterRunStatus.STARTED)
        result, context = _tick(instance, database_url, cursor)
        assert isinstance(result, SkipReason)
        assert "in progress" in result.skip_message and run.run_id[:8] in result.skip_message
        assert context.cursor == cursor

        # Once the run has finished, the rows that landed while it ran launch its follow-up on the
        # first tick after it, named as such.
        instance.report_run_canceled(run)
        result, context = _tick(instance, database_url, cursor)
        assert isinstance(result, RunRequest)
        assert result.tags["gdp/trigger"] == "follow_up" and result.tags["gdp/follows_run"] == run.run_id
        assert json.loads(context.cursor)["resend_event"] == raw_high_water_marks(database_url)["resend_event"]


def test_sensor_follow_up_only_when_marks_moved_past_the_finished_run(clean_raw, database_url):
    conn = clean_raw
    with DagsterInstance.ephemeral() as instance:
        _land_resend(conn, 1)
        start_marks = json.dumps(raw_high_water_marks(database_url))
        create_run_for_test(instance, job_name=REFRESH_AND_ACTIVATE, status=DagsterRunStatus.SUCCESS)
        # The run built everything that had landed: nothing to follow up.
        result, _ = _tick(instance, database_url, start_marks)
        assert isinstance(result, SkipReason) and "No new rows" in result.skip_message
        # A first launch (no run ever) is a plain raw_landing trigger, not a follow-up.
        fresh = decide({"resend_event": 2}, None, None, None)
        assert fresh.run_request.tags["gdp/trigger"] == "raw_landing"


def test_schedule_skips_while_a_run_is_in_progress():
    # A schedule context needs an instance it can reference, which the ephemeral one is not.
    with instance_for_test() as instance:
        assert isinstance(every_five_minutes(build_schedule_context(instance=instance)), RunRequest)
        create_run_for_test(instance, job_name=REFRESH_AND_ACTIVATE, status=DagsterRunStatus.STARTING)
        skipped = every_five_minutes(build_schedule_context(instance=instance))
        assert isinstance(skipped, SkipReason) and "never overlap" in skipped.skip_message


# --- latency -----------------------------------------------------------------------------


def test_latency_p50_p95_from_the_outbox(conn, database_url):
    from activation.latency import latency

    cycle = f"cycle-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    with conn.transaction():
        for i, wait in enumerate(range(1, 101)):  # waits of 1..100 s
            conn.execute(
                "insert into activation.outbox (outbox_key, channel, status, qualified_at, sent_at, cycle_id)"
                " values (%s, 'email', 'sent', %s, %s, %s)",
                (f"lat-{cycle}-{i}", now - timedelta(seconds=wait), now, cycle),
            )
        conn.execute(
            "insert into activation.outbox (outbox_key, channel, status, qualified_at, sent_at, cycle_id)"
            " values (%s, 'email', 'pending', %s, null, %s)",
            (f"lat-{cycle}-pending", now - timedelta(hours=5), cycle),
        )
    (report,) = [r for r in latency(database_url, cycle_id=cycle) if r.channel == "all"]
    assert report.count == 100
    assert report.p50_s == pytest.approx(50.5, abs=0.01)
    assert report.p95_s == pytest.approx(95.05, abs=0.01)
    assert report.max_s == pytest.approx(100, abs=0.01)
    assert "p95=" in report.line()
    assert latency(database_url, cycle_id="no-such-cycle")[0].count == 0


def test_latency_counts_a_webhook_delivery_as_a_send(conn, database_url):
    """An enter/exit webhook reaches the customer's endpoint: a send like an email."""
    from activation.latency import latency

    cycle = f"cycle-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    conn.execute(
        "insert into activation.outbox (outbox_key, channel, status, qualified_at, sent_at, cycle_id)"
        " values (%s, 'webhook', 'sent', %s, %s, %s)",
        (f"lat-{cycle}-hook", now - timedelta(seconds=12), now, cycle),
    )
    conn.commit()
    reports = {r.channel: r for r in latency(database_url, cycle_id=cycle)}
    assert reports["webhook"].count == reports["all"].count == 1
    assert reports["webhook"].p50_s == pytest.approx(12, abs=0.01)


def test_stage_breakdown_on_constructed_timestamps():
    from activation.latency import SendTimeline, stage_breakdown

    # 20 sends: event at 0; landed 0.5 s later; run created 2+i/10 s after landing; started 1 s later;
    # dbt 10 s; ledger 0.5 s; sent 1 s (send 7 has no Dagster moments: its ledger stage runs from landing).
    timelines = []
    for i in range(20):
        t0 = 1000.0 * i
        landing = t0 + 0.5
        trigger = landing + 2 + i / 10
        moments = {"landing": landing, "trigger": trigger, "launch": trigger + 1, "dbt": trigger + 11,
                   "ledger": trigger + 11.5, "activation": trigger + 12.5}
        if i == 7:
            moments.update(trigger=None, launch=None, dbt=None)
        timelines.append(SendTimeline(f"k{i}", f"run{i}", t0, moments))
    by = {(r.stage, r.since): r for r in stage_breakdown(timelines)}
    assert by[("landing", "qualified")].p50_s == pytest.approx(0.5)
    trigger = by[("trigger", "landing")]
    assert trigger.count == 19
    waits = sorted(2 + i / 10 for i in range(20) if i != 7)
    assert trigger.p50_s == pytest.approx(waits[9]) and trigger.p95_s == pytest.approx(waits[17] + 0.1 * (waits[18] - waits[17]))  # 3.81 s
    assert by[("launch", "trigger")].p95_s == pytest.approx(1.0)
    assert by[("dbt", "launch")].p50_s == pytest.approx(10.0)
    assert by[("ledger", "dbt")].count == 19 and by[("ledger", "dbt")].p50_s == pytest.approx(0.5)
    assert by[("ledger", "landing")].count == 1 and by[("ledger", "landing")].p50_s == pytest.approx(11.5 + 2.7)
    assert by[("activation", "ledger")].p50_s == pytest.approx(1.0)
    total = by[("total", "landing")]
    assert total.count == 20 and total.p50_s == pytest.approx(12.5 + 2.95)
    assert "p50=10.0 s" in by[("dbt", "launch")].line() and "p95=1.0 s" in by[("launch", "trigger")].line()
    assert stage_breakdown([])[-1].line().endswith("no timings")


def test_send_timelines_read_landing_ledger_and_send_and_merge_run_moments(conn, database_url):
    from activation.latency import send_timelines, stage_breakdown, with_run_moments

    cycle = f"cycle-{uuid.uuid4().hex[:8]}"
    person = f"p_lat_{uuid.uuid4().hex[:8]}"
    occurred = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    with conn.transaction():
        conn.execute("create schema if not exists lat_test")
        conn.execute("create table if not exists lat_test.event (person_id text, occurred_at timestamptz,"
                     " received_at timestamptz)")
        conn.execute("insert into lat_test.event values (%s, %s, %s)", (person, occurred, occurred + timedelta(seconds=1)))
        (transition_id,) = conn.execute(
            "insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at,"
            " recorded_at) values (%s, 'seg', %s, 'entered', %s, %s) returning transition_id",
            (cycle, person, occurred, occurred + timedelta(seconds=20)),
        ).fetchone()
        conn.execute(
            "insert into activation.outbox (outbox_key, channel, status, person_id, transition_id, qualified_at,"
            " sent_at, cycle_id) values (%s, 'email', 'sent', %s, %s, %s, %s, %s)",
            (f"st-{cycle}", person, transition_id, occurred, occurred + timedelta(seconds=22), cycle),
        )
    try:
        (timeline,) = send_timelines(database_url, dbt_schema="lat_test", cycle_id=cycle)
        base = occurred.timestamp()
        assert timeline.moments == {"landing": base + 1, "ledger": base + 20, "activation": base + 22}
        by = {(r.stage, r.since): r.p50_s for r in stage_breakdown([timeline])}
        assert by == {("landing", "qualified"): 1, ("ledger", "landing"): 19, ("activation", "ledger"): 2,
                      ("total", "landing"): 21}
        runs = {cycle: {"trigger": base + 4, "launch": base + 5, "dbt": base + 18}}
        by = {(r.stage, r.since): r.p50_s for r in stage_breakdown(with_run_moments([timeline], runs))}
        assert by[("trigger", "landing")] == 3 and by[("launch", "trigger")] == 1
        assert by[("dbt", "launch")] == 13 and by[("ledger", "dbt")] == 2
    finally:
        conn.execute("drop schema lat_test cascade")


def test_dagster_run_moments_from_run_records():
    from activation.latency import dagster_run_moments

    with instance_for_test() as instance:
        run = create_run_for_test(instance, job_name=REFRESH_AND_ACTIVATE, status=DagsterRunStatus.NOT_STARTED)
        instance.report_engine_event("start", run)
        instance.handle_run_event(run.run_id, _run_event(run, "PIPELINE_START"))
        moments = dagster_run_moments(instance, [run.run_id, "unknown-run"])
    assert set(moments) == {run.run_id}
    created, started = moments[run.run_id]["trigger"], moments[run.run_id]["launch"]
    assert created is not None and started is not None and started >= created
    assert moments[run.run_id]["dbt"] is None


def _run_event(run, event_type):
    from dagster._core.events import DagsterEvent, DagsterEventType

    return DagsterEvent(DagsterEventType[event_type].value, job_name=run.job_name)


# --- gdp dagster's instance on Postgres --------------------------------------------------


def test_gdp_dagster_instance_keeps_runs_in_postgres(tmp_path, server_url, monkeypatch):
    """The dagster.yaml `gdp dagster` writes gives a working instance on the same server."""
    from dagster._core.instance.ref import InstanceRef

    from gdp import db as gdb
    from gdp.commands.dagster import prepare_home, sqlalchemy_url

    name = f"gdp_dagster_test_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    try:
        prepare_home(tmp_path)
        monkeypatch.setenv("DAGSTER_PG_URL", sqlalchemy_url(url))
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
            run = create_run_for_test(instance, job_name=REFRESH_AND_ACTIVATE, status=DagsterRunStatus.STARTED)
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as again:
            assert again.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
    finally:
        gdb.drop_database(server_url, name)


@pytest.mark.parametrize("coordinator", ["queued", "default"])
def test_gdp_dagster_run_coordinator_launches_without_the_5_s_queue_wait(tmp_path, server_url, monkeypatch, coordinator):
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.run_coordinator import DefaultRunCoordinator, QueuedRunCoordinator

    from gdp import db as gdb
    from gdp.commands.dagster import prepare_home, sqlalchemy_url

    name = f"gdp_dagster_coordinator_{uuid.uuid4().hex[:8]}"
    prepare_home(tmp_path, coordinator)
    monkeypatch.setenv("DAGSTER_PG_URL", sqlalchemy_url(gdb.create_database(server_url, name)))
    try:
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
            run_coordinator = instance.run_coordinator
            if coordinator == "queued":
                assert isinstance(run_coordinator, QueuedRunCoordinator)
                assert run_coordinator.dequeue_interval_seconds == 1
                assert run_coordinator.get_run_queue_config().max_concurrent_runs == 1
            else:
                assert isinstance(run_coordinator, DefaultRunCoordinator)
    finally:
        gdb.drop_database(server_url, name)


def test_gdp_latency_command_prints_p50_p95(conn, database_url, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from gdp.cli import main
    from gdp.settings import get_settings

    cycle = f"cycle-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    conn.execute(
        "insert into activation.outbox (outbox_key, channel, status, qualified_at, sent_at, cycle_id)"
        " values (%s, 'email', 'sent', %s, %s, %s)",
        (f"cli-{cycle}", now - timedelta(seconds=12), now, cycle),
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # no dagster.yaml: the database's moments only
        result = CliRunner().invoke(main, ["latency", "--cycle", cycle])
    finally:
        monkeypatch.delenv("DATABASE_URL")
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "email" in result.output and "p50=12.0 s" in result.output and "p95=12.0 s" in result.output
    assert "stages of the path, database timestamps only (no Dagster instance configured)" in result.output
