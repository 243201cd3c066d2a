"""One cycle: selectors.yml names the frequent `cycle` and the `nightly` run, and
`gdp refresh` and Dagster build the same one (parse only, no database)."""

from __future__ import annotations

import contextlib
import json
import subprocess

import pytest

from gdp.dbt import CYCLE_SELECTOR, NIGHTLY_SELECTOR, SPARK_SELECTOR, cycle_build_args, dbt_command, dbt_environment
from gdp.settings import REPO_ROOT
from orchestration.cycle import run_cycle
from orchestration.dbt_assets import build_dbt_args, gdp_dbt_assets
from orchestration.project import PARSE_PLACEHOLDER_URL

GUARDS = {"assert_every_raw_row_captured", "assert_identity_quarantine_under_limit", "assert_identity_components_converged"}


def listed(tmp_path, *args: str) -> list[dict]:
    env = dbt_environment(PARSE_PLACEHOLDER_URL, target_path=tmp_path)
    proc = subprocess.run(
        dbt_command(["ls", "--output", "json", "--output-keys", "name", "resource_type", "tags", "-q", *args]),
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_cycle_has_every_model_and_the_guards_but_no_unit_or_nightly_test(tmp_path):
    cycle = listed(tmp_path, "--selector", CYCLE_SELECTOR)
    nightly = listed(tmp_path, "--selector", NIGHTLY_SELECTOR)
    models = {n["name"] for n in nightly if n["resource_type"] == "model"}
    assert {n["name"] for n in cycle if n["resource_type"] == "model"} == models
    assert {"person", "event", "segment_member", "won"} <= models
    cycle_tests = {n["name"] for n in cycle if n["resource_type"] == "test"}
    assert GUARDS <= cycle_tests
    assert not [n for n in cycle if n["resource_type"] == "unit_test"]
    assert not [n for n in cycle if "nightly" in n["tags"]]
    nightly_only = {n["name"] for n in nightly} - {n["name"] for n in cycle}
    assert any(n["resource_type"] == "unit_test" for n in nightly)
    assert any(name.startswith("known_person_event_person_id") for name in nightly_only)


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_spark_selector_is_the_ported_models_and_none_postgres_still_owns(tmp_path):
    spark = listed(tmp_path, "--selector", SPARK_SELECTOR)
    models = {n["name"] for n in spark if n["resource_type"] == "model"}
    assert {"event", "int_events__unioned", "int_attribution__touches", "int_capture__raw_rows",
            "stg_deals__leads", "stg_activation__outbox", "int_persons__event_rollup", "int_persons__event_windows",
            "person", "person_features", "deal", "subscription", "email_message", "email_event",
            "segment", "segment_member", "contact_eligibility", "won", "paid_low_usage_7d"} <= models
    assert not models & {"capture_completeness", "int_capture__counts"}
    # Spark builds the identity graph, identity_link and the privacy intermediates itself.
    assert {"identity_link", "int_identity__edges", "int_identity__resolved", "int_identity__quarantine",
            "int_privacy__identity_hashes", "int_privacy__forgotten_persons"} <= models
    assert {n["name"] for n in spark if n["resource_type"] == "seed"} >= {"event_type_map", "page_patterns"}
    assert not [n for n in spark if n["resource_type"] == "unit_test" or "nightly" in n["tags"]]


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_contracts_are_enforced_on_every_model_another_layer_reads(tmp_path):
    enforced = {n["name"] for n in listed(tmp_path, "--select", "config.contract.enforced:true", "--resource-type", "model")}
    assert {
        "person", "person_features", "event", "deal", "identity_link", "email_message", "email_event",
        "subscription", "segment", "segment_member", "contact_eligibility", "attribution", "capture_completeness",
        "int_identity__quarantine", "int_identity__edges",
    } <= enforced


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_gdp_refresh_and_dagster_build_the_same_cycle(monkeypatch, tmp_path):
    assert cycle_build_args() == ["build", "--selector", "cycle", "--exclude-resource-type", "unit_test"]
    assert cycle_build_args(selector=NIGHTLY_SELECTOR) == ["build", "--selector", "nightly"]
    # Dagster: the assets are the cycle selector's; dagster-dbt adds `--selector cycle` to the same argv.
    assert gdp_dbt_assets.op.tags["dagster_dbt/selector"] == CYCLE_SELECTOR
    assert [*build_dbt_args()[:1], "--selector", CYCLE_SELECTOR, *build_dbt_args()[1:]] == cycle_build_args()
    assert build_dbt_args(full_refresh=True, extra_vars={"b": 2, "a": 1}) == [
        "build", "--exclude-resource-type", "unit_test", "--full-refresh", "--vars", '{"a": 1, "b": 2}'
    ]

    seen = []

    def fake_run_dbt(args, url, **kwargs):
        seen.append(args)
        raise RuntimeError("stop before the database")

    monkeypatch.setattr("orchestration.cycle.run_dbt", fake_run_dbt)
    monkeypatch.setattr("orchestration.cycle.cycle_lock", lambda url, wait=False: contextlib.nullcontext())
    # The first cycle on a database (no state yet) builds the whole selection, as Dagster does.
    monkeypatch.setattr("orchestration.cycle_plan.probe_sources", lambda url, manifest, previous: {})
    monkeypatch.setattr("orchestration.cycle.raw_high_water_marks", lambda url: {})
    try:
        run_cycle("postgresql://unused", record=False, target_path=tmp_path)
    except RuntimeError:
        pass
    assert seen == [cycle_build_args()]
