"""With GDP_WAREHOUSE=spark, Dagster draws the Spark warehouse with Postgres' lineage: the raw copy
upstream of every dbt source, one `spark/<node>` asset per node the dbt selector `spark` builds
(parents as in the manifest), Spark's segment_member synced into Postgres before the ledger; with
the default warehouse the graph is Postgres' alone."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest
from dagster import AssetKey, Definitions

from gdp.dbt import DbtRun, NodeResult, run_dbt
from gdp.settings import get_settings
from orchestration.definitions import build_definitions
from orchestration.project import dbt_target_dir
from orchestration.spark_assets import (
    SPARK_PREFIX,
    SPARK_RAW_COPY_KEY,
    SPARK_SEGMENT_MEMBER_KEY,
    SPARK_SEGMENT_SYNC_KEY,
    node_results,
    spark_dbt_specs,
)


def _graph(monkeypatch, warehouse: str | None):
    if warehouse:
        monkeypatch.setenv("GDP_WAREHOUSE", warehouse)
    else:
        monkeypatch.delenv("GDP_WAREHOUSE", raising=False)
    get_settings.cache_clear()
    try:
        defs = build_definitions()
        Definitions.validate_loadable(defs)
        return defs.get_repository_def().asset_graph
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def spark_graph():
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _graph(monkeypatch, "spark")


def spark(name: str) -> AssetKey:
    return AssetKey([SPARK_PREFIX, name])


def _names(keys) -> set[str]:
    return {key.to_user_string() for key in keys}


@pytest.fixture(scope="module")
def spark_selection(tmp_path_factory) -> set[str]:
    """What dbt itself lists for `--selector spark` (models and seeds), on the parse Dagster loads."""
    target = tmp_path_factory.mktemp("spark_ls")
    shutil.copy(dbt_target_dir() / "partial_parse.msgpack", target)
    run = run_dbt(["ls", "--selector", "spark", "--resource-type", "model", "--resource-type", "seed",
                   "--output", "name", "--quiet"], "postgresql://postgres@localhost:5432/postgres", target_path=target)
    assert run.ok, run.output
    # run_dbt collects dbt's log lines too ("Running with dbt=..."): the listed names are the bare ones.
    return {line for line in run.output.splitlines() if re.fullmatch(r"[a-z][a-z0-9_]*", line)}


def test_spark_warehouse_puts_the_raw_copy_before_every_source(spark_graph):
    graph = spark_graph
    sources = [key for key in graph.get_all_asset_keys() if graph.get(key).group_name == "sources"]
    assert AssetKey(["raw", "resend_event"]) in sources and AssetKey(["activation", "outbox"]) in sources
    for key in sources:
        assert graph.get(key).parent_keys == {SPARK_RAW_COPY_KEY}, key.to_user_string()
    assert graph.get(SPARK_RAW_COPY_KEY).group_name == graph.get(SPARK_SEGMENT_SYNC_KEY).group_name == "spark"
    # Postgres' lineage is the same one: raw → staging → event → segments.
    assert AssetKey(["raw", "resend_event"]) in graph.get(AssetKey("stg_resend__events")).parent_keys


def test_every_node_spark_builds_is_an_asset_with_postgres_lineage(spark_graph, spark_selection):
    graph = spark_graph
    on_spark = {key for key in graph.get_all_asset_keys() if key.path[0] == SPARK_PREFIX}
    nodes = on_spark - {SPARK_RAW_COPY_KEY, SPARK_SEGMENT_SYNC_KEY}
    assert {key.path[-1] for key in nodes} == spark_selection and len(spark_selection) > 90
    for key in nodes:
        parents = graph.get(key).parent_keys - {SPARK_RAW_COPY_KEY}
        postgres_parents = {AssetKey(p.path[1:]) if p.path[0] == SPARK_PREFIX else p for p in parents}
        # The same parents as Postgres' asset of the same model, each one Spark's where Spark builds it.
        assert postgres_parents == graph.get(AssetKey(key.path[1:])).parent_keys, key.to_user_string()
        assert not {p for p in parents if p.path[0] != SPARK_PREFIX and AssetKey([SPARK_PREFIX, *p.path]) in nodes}
        assert graph.get(key).group_name == f"spark_{graph.get(AssetKey(key.path[1:])).group_name}"
    assert {"spark/identity_link", "spark/int_events__unioned", "spark/int_identity__resolved"} <= _names(
        graph.get(spark("event")).parent_keys)
    groups = Counter(graph.get(key).group_name for key in nodes)
    assert groups["spark_staging"] >= 15 and groups["spark_marts"] >= 5 and groups["spark_seeds"] == 4


def test_spark_staging_reads_the_raw_copy(spark_graph):
    graph = spark_graph
    assert graph.get(spark("stg_resend__events")).parent_keys == {AssetKey(["raw", "resend_event"]), SPARK_RAW_COPY_KEY}
    staging = [key for key in graph.get_all_asset_keys() if key.path[0] == SPARK_PREFIX and key.path[-1].startswith("stg_")]
    assert len(staging) >= 15
    for key in staging:
        assert SPARK_RAW_COPY_KEY in graph.get(key).parent_keys, key.to_user_string()
        assert all(graph.get(p).parent_keys == {SPARK_RAW_COPY_KEY} for p in graph.get(key).parent_keys - {SPARK_RAW_COPY_KEY})


def test_spark_segments_feed_the_sync_and_the_ledger(spark_graph):
    graph = spark_graph
    members = graph.get(SPARK_SEGMENT_MEMBER_KEY).parent_keys
    assert spark("won") in members and spark("warm_lead") in members and len(members) == 20
    assert SPARK_SEGMENT_MEMBER_KEY not in graph.get(spark("won")).parent_keys
    assert graph.get(SPARK_SEGMENT_SYNC_KEY).parent_keys == {SPARK_SEGMENT_MEMBER_KEY, AssetKey("segment_member")}
    assert SPARK_SEGMENT_SYNC_KEY in graph.get(AssetKey("membership_ledger")).parent_keys


def test_default_warehouse_has_no_spark_assets(monkeypatch):
    graph = _graph(monkeypatch, None)
    assert not [key for key in graph.get_all_asset_keys() if key.path[0] == SPARK_PREFIX]
    assert graph.get(AssetKey(["raw", "resend_event"])).parent_keys == set()


def test_a_failed_node_fails_the_step_by_name_and_the_rest_materialize():
    """Per-node results of a Spark build where staging of Resend errored: its downstream is
    skipped, a test failed; every other node is materialized, upstream first."""
    specs = spark_dbt_specs()
    failing, skipped = "model.gdp.stg_resend__events", "model.gdp.int_events__resend"
    results = [NodeResult(uid, "error" if uid == failing else "skipped" if uid == skipped else "success", 1.5,
                          "Database Error: no table raw.resend_event" if uid == failing else "")
               for uid in specs]
    results.append(NodeResult("test.gdp.unique_event_event_id.1", "fail", 0.2, "Got 3 results"))
    run = DbtRun(1, Counter(r.status for r in results), [], 60.0, "", results)
    built, failed = node_results(run, specs)
    keys = [result.asset_key for result in built]
    assert len(keys) == len(specs) - 2 and spark("stg_resend__events") not in keys and spark("event") in keys
    assert keys.index(spark("int_events__unioned")) < keys.index(spark("event"))
    assert keys.index(spark("won")) < keys.index(SPARK_SEGMENT_MEMBER_KEY)
    assert built[keys.index(spark("event"))].metadata == {"dbt_status": "success", "execution_time_s": 1.5}
    assert failed == [f"{failing}: error Database Error: no table raw.resend_event", f"{skipped}: skipped",
                      "test.gdp.unique_event_event_id.1: fail Got 3 results"]
