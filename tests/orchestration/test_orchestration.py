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
    assert repo.get_sensor_def("raw_landing_sensor").minimum_interval_seconds == 30
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

        # Once the run has finished, the same rows launch the next run.
        instance.report_run_canceled(run)
        result, _ = _tick(instance, database_url, cursor)
        assert isinstance(result, RunRequest)


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


def test_gdp_latency_command_prints_p50_p95(conn, database_url, monkeypatch):
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
        result = CliRunner().invoke(main, ["latency", "--cycle", cycle])
    finally:
        monkeypatch.delenv("DATABASE_URL")
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "email" in result.output and "p50=12.0 s" in result.output and "p95=12.0 s" in result.output
