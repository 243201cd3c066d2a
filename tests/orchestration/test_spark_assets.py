"""With GDP_WAREHOUSE=spark, Dagster draws the Spark warehouse: the raw copy upstream of every dbt
source, and the Spark build after the copy and after what it reads from Postgres' build; with the
default warehouse the graph is Postgres' alone."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from gdp.settings import get_settings
from orchestration.definitions import build_definitions
from orchestration.spark_assets import SPARK_RAW_COPY_KEY, SPARK_SEGMENT_SYNC_KEY, SPARK_WAREHOUSE_KEY


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


def test_spark_warehouse_puts_the_raw_copy_before_every_source(monkeypatch):
    graph = _graph(monkeypatch, "spark")
    sources = [key for key in graph.get_all_asset_keys() if graph.get(key).group_name == "sources"]
    assert AssetKey(["raw", "resend_event"]) in sources and AssetKey(["activation", "outbox"]) in sources
    for key in sources:
        assert graph.get(key).parent_keys == {SPARK_RAW_COPY_KEY}, key.to_user_string()
    # Spark builds identity_link and the privacy rollups itself: nothing of Postgres' build is copied in first.
    assert graph.get(SPARK_WAREHOUSE_KEY).parent_keys == {SPARK_RAW_COPY_KEY}
    # Spark's segment_member reaches Postgres' before the ledger reads it.
    assert graph.get(SPARK_SEGMENT_SYNC_KEY).parent_keys == {SPARK_WAREHOUSE_KEY, AssetKey("segment_member")}
    assert SPARK_SEGMENT_SYNC_KEY in graph.get(AssetKey("membership_ledger")).parent_keys
    assert graph.get(SPARK_RAW_COPY_KEY).group_name == graph.get(SPARK_WAREHOUSE_KEY).group_name == "spark"
    # Postgres' lineage is the same one: raw → staging → event → segments.
    assert AssetKey(["raw", "resend_event"]) in graph.get(AssetKey("stg_resend__events")).parent_keys


def test_default_warehouse_has_no_spark_assets(monkeypatch):
    graph = _graph(monkeypatch, None)
    keys = graph.get_all_asset_keys()
    assert SPARK_RAW_COPY_KEY not in keys and SPARK_WAREHOUSE_KEY not in keys
    assert graph.get(AssetKey(["raw", "resend_event"])).parent_keys == set()
