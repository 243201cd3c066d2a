"""The Spark warehouse materialized through Dagster (GDP_WAREHOUSE=spark): `spark/raw_copy`, then the
one step of Spark's dbt assets, on a landed demo world with the real Postgres and the test session's
Spark. Every node of the `spark` selection gets its own materialization with dbt's status and time,
and what the UI shows matches what Spark holds."""

from __future__ import annotations

import time

import pytest
from dagster import AssetKey, materialize

from gdp.settings import get_settings
from orchestration.resources import PostgresResource
from orchestration.spark_assets import SPARK_RAW_COPY_KEY, spark_assets
from tests.dbt_helpers import private_database
from tests.spark.parity import land_world


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url:
        land_world(url, settings, persons=30, days=4, seed=17)
        yield url


@pytest.fixture(scope="module")
def spark_env(spark_dir, empty_spark_raw):
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in {"GDP_WAREHOUSE": "spark", "GDP_SPARK_DIR": str(spark_dir), "GDP_DBT_SCHEMA": "analytics"}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def materialized(world_url, spark, spark_env):
    raw_copy, spark_dbt, _sync = spark_assets()
    started = time.perf_counter()
    result = materialize([raw_copy, spark_dbt], resources={"postgres": PostgresResource(database_url=world_url)},
                         raise_on_error=False)
    print(f"\ndagster: spark/raw_copy + the Spark dbt step in {time.perf_counter() - started:.1f} s")
    return result, raw_copy, spark_dbt


def test_every_spark_node_is_materialized_with_its_dbt_result(materialized):
    result, raw_copy, spark_dbt = materialized
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    copy = result.asset_materializations_for_node(raw_copy.op.name)
    assert [m.asset_key for m in copy] == [SPARK_RAW_COPY_KEY] and copy[0].metadata["rows_copied"].value > 0
    nodes = result.asset_materializations_for_node(spark_dbt.op.name)
    keys = [m.asset_key for m in nodes]
    assert len(keys) == len(set(keys)) and set(keys) == set(spark_dbt.keys) and len(keys) > 90
    for m in nodes:
        assert m.metadata["dbt_status"].value == "success", m.asset_key.to_user_string()
        assert m.metadata["execution_time_s"].value >= 0
    # Upstream first, as the lineage runs: staging before event, the segments before segment_member.
    assert keys.index(AssetKey(["spark", "stg_resend__events"])) < keys.index(AssetKey(["spark", "event"]))
    assert keys.index(AssetKey(["spark", "won"])) < keys.index(AssetKey(["spark", "segment_member"]))


def test_the_materialized_event_is_the_one_spark_holds(materialized, spark):
    result = materialized[0]
    assert result.success
    assert spark.sql("select count(*) from analytics.event").collect()[0][0] > 100
    assert spark.sql("select count(*) from analytics.stg_resend__events").collect()[0][0] > 0


def test_a_failed_spark_build_fails_the_step_naming_the_nodes(materialized, world_url, spark):
    """Spark's raw copies gone (runs last: it drops them): the source tests error, staging and all
    that reads it is skipped; the step fails naming them, and the seeds, which did build, are
    materialized."""
    _, _, spark_dbt = materialized
    spark.sql("drop database if exists `raw` cascade")
    result = materialize([spark_dbt], resources={"postgres": PostgresResource(database_url=world_url)},
                         raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.user_failure_data
    failures = failure.metadata["failures"].value
    assert failure.description.startswith("the Spark dbt build failed")
    assert any(f.startswith("test.gdp.source_") and ": error " in f and "`raw`.`resend_event`" in f for f in failures)
    assert "model.gdp.stg_resend__events: skipped" in failures and "model.gdp.event: skipped" in failures
    built = {m.asset_key for m in result.asset_materializations_for_node(spark_dbt.op.name)}
    assert AssetKey(["spark", "event_type_map"]) in built and AssetKey(["spark", "event"]) not in built
