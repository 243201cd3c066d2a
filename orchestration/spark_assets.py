"""The Spark warehouse in Dagster (GDP_WAREHOUSE=spark), with the same lineage as Postgres':
`spark/raw_copy` upstream of the dbt sources (the landings Spark's models read are its copies),
then one asset per node of the dbt selector `spark` (`spark/stg_resend__events`, `spark/event`,
`spark/segment_member`, ...; parents as in the manifest, groups `spark_<layer>`), built in one
step, then `spark/segment_member_sync` into Postgres before the ledger.
The steps are orchestration/spark_warehouse.py's, shared with `gdp refresh --warehouse spark`;
they run in the run's own process, on one SparkSession.
"""


from collections.abc import Iterator, Mapping
from functools import cache
from graphlib import TopologicalSorter
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt.asset_utils import is_non_asset_node
from dagster_dbt.utils import ASSET_RESOURCE_TYPES, select_unique_ids

from gdp.dbt import SPARK_SELECTOR, DbtRun
from gdp.segment_sync import sync_segment_member
from gdp.settings import get_settings
from gdp.spark import spark_session
from orchestration.dbt_assets import DBT_PROJECT, SEGMENT_MEMBER_KEY, TRANSLATOR, _manifest
from orchestration.project import dbt_target_dir
from orchestration.resources import PostgresResource
from orchestration.spark_warehouse import build_on_spark, copy_raw_into_spark

SPARK_PREFIX = "spark"
SPARK_RAW_COPY_KEY = AssetKey([SPARK_PREFIX, "raw_copy"])
SPARK_SEGMENT_MEMBER_KEY = AssetKey([SPARK_PREFIX, *SEGMENT_MEMBER_KEY.path])
SPARK_SEGMENT_SYNC_KEY = AssetKey([SPARK_PREFIX, "segment_member_sync"])


@asset(
    key=SPARK_RAW_COPY_KEY,
    group_name="spark",
    kinds={"postgres", "spark"},
    description="Postgres' landings (raw.*, by landing id watermark) and state tables (whole) into the Spark "
    "warehouse's parquet tables, the first step of a Spark cycle (gdp/raw_copy.py); the landings gdp forget "
    "deleted are deleted from Spark's copies first (raw.forgotten_landing).",
)
def spark_raw_copy(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    copy = copy_raw_into_spark(postgres.url(), get_settings())
    return MaterializeResult(metadata={
        "rows_copied": copy.rows,
        "tables": MetadataValue.json({t.table: t.copied for t in copy.tables}),
        "elapsed_s": round(copy.elapsed_s, 1),
    })


def spark_node_ids(manifest: Mapping[str, Any]) -> list[str]:
    """The nodes `dbt build --selector spark` builds that are assets (models, seeds, snapshots;
    not ephemeral models), evaluated by dbt's own selection on the manifest."""
    selected = select_unique_ids(select="", exclude="", selector=SPARK_SELECTOR, project=DBT_PROJECT, manifest_json=manifest)
    return sorted(
        uid for uid in selected
        if uid.split(".")[0] in ASSET_RESOURCE_TYPES and not is_non_asset_node(manifest["nodes"][uid])
    )


def spark_key(key: AssetKey) -> AssetKey:
    return AssetKey([SPARK_PREFIX, *key.path])


def spark_dbt_specs(manifest: Mapping[str, Any] | None = None) -> dict[str, AssetSpec]:
    """unique_id → the AssetSpec of that node as Spark builds it: the translator's spec (so the
    lineage, segment → segment_member included, is Postgres' own) under the `spark` prefix, in the
    layer's group prefixed `spark_`. A parent Spark builds too becomes its `spark/` asset; a source
    stays the source asset, and `spark/raw_copy` joins it (what Spark reads is the copy, so the
    build runs after it); a model only Postgres builds (POSTGRES_MODELS, copied in first) stays
    Postgres'."""
    manifest = manifest or _manifest()
    specs = {uid: TRANSLATOR.get_asset_spec(manifest, uid, DBT_PROJECT) for uid in spark_node_ids(manifest)}
    on_spark = {spec.key for spec in specs.values()}
    sources = {TRANSLATOR.get_asset_key(props) for props in manifest.get("sources", {}).values()}
    out = {}
    for uid, spec in specs.items():
        props = manifest["nodes"][uid]
        deps = [AssetDep(spark_key(dep.asset_key), partition_mapping=dep.partition_mapping) if dep.asset_key in on_spark else dep
                for dep in spec.deps]
        if any(dep.asset_key in sources for dep in spec.deps):
            deps.append(AssetDep(SPARK_RAW_COPY_KEY))
        # dagster-dbt's own keys would mark these as its assets (of the Postgres manifest), and the
        # table name and materialization type are Postgres'; the Spark relation replaces them.
        relation = f"{props['schema']}.{props.get('alias') or props['name']}"
        metadata = {k: v for k, v in spec.metadata.items()
                    if not k.startswith(("dagster_dbt/", "dagster-dbt/", "dagster/table_name", "dagster/storage_kind"))}
        out[uid] = spec.replace_attributes(
            key=spark_key(spec.key),
            deps=deps,
            group_name=f"{SPARK_PREFIX}_{spec.group_name}",
            kinds={"dbt", "spark"},
            metadata={**metadata, "dagster/table_name": relation, "dagster/storage_kind": "spark", "dbt_unique_id": uid},
        )
    return out


def node_results(run: DbtRun, specs: Mapping[str, AssetSpec]) -> tuple[list[MaterializeResult], list[str]]:
    """The run's per-node results as one MaterializeResult per built asset, upstream first (Dagster
    wants a multi-asset's outputs in lineage order), and what did not build: failed or skipped
    nodes, failing tests, and assets the run has no result for."""
    by_id = {result.unique_id: result for result in run.results}
    order = TopologicalSorter({
        key: {dep.asset_key for dep in spec.deps if dep.asset_key in {s.key for s in specs.values()}}
        for key, spec in ((spec.key, spec) for spec in specs.values())
    }).static_order()
    uid_of = {spec.key: uid for uid, spec in specs.items()}
    built, failed = [], []
    for key in order:
        uid = uid_of[key]
        result = by_id.get(uid)
        if result is None:
            failed.append(f"{uid}: no result (not built)")
        elif result.status != "success":
            failed.append(f"{uid}: {result.status} {result.message}".rstrip())
        else:
            metadata = {"dbt_status": result.status, "execution_time_s": round(result.execution_time, 2)}
            if result.rows_affected is not None:
                metadata["rows_affected"] = result.rows_affected
            built.append(MaterializeResult(asset_key=key, metadata=metadata))
    failed += [f"{r.unique_id}: {r.status} {r.message}".rstrip() for r in run.results
               if r.unique_id not in specs and r.status in ("error", "fail")]
    return built, failed


def build_spark_dbt_assets(manifest: Mapping[str, Any] | None = None) -> AssetsDefinition:
    """One asset per node of the `spark` selection, run as one step: `build_on_spark`, dbt in this
    process on one SparkSession (the Derby catalog admits one process), so no subset."""
    specs = spark_dbt_specs(manifest)

    @multi_asset(name="spark_dbt", specs=list(specs.values()), can_subset=False)
    def spark_dbt(context: AssetExecutionContext, postgres: PostgresResource) -> Iterator[MaterializeResult]:
        settings = get_settings()
        linked, run = build_on_spark(postgres.url(), settings, target_path=dbt_target_dir(settings) / "spark")
        context.log.info(f"spark dbt build: {dict(run.statuses)} in {run.elapsed_s:.1f}s; "
                         f"copied from Postgres: { {t.table: t.copied for t in linked.tables} }")
        built, failed = node_results(run, specs)
        yield from built
        if failed or not run.ok:
            raise Failure(
                f"the Spark dbt build failed: {len(failed)} node(s) did not build",
                metadata={"failures": MetadataValue.json(failed if run.results else [run.output[-3000:]]),
                          "statuses": MetadataValue.json(dict(run.statuses))},
            )

    return spark_dbt


@asset(
    key=SPARK_SEGMENT_SYNC_KEY,
    deps=[SPARK_SEGMENT_MEMBER_KEY, SEGMENT_MEMBER_KEY],
    group_name="spark",
    kinds={"spark", "postgres"},
    description="Spark's segment_member into Postgres' (only the changed rows, gdp/segment_sync.py), "
    "after the Spark build and Postgres' own segment_member, before the ledger reads it.",
)
def spark_segment_member_sync(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    settings = get_settings()
    sync = sync_segment_member(postgres.url(), spark_session(settings.spark_path()), settings.dbt_schema)
    return MaterializeResult(metadata={
        "spark_rows": sync.spark_rows, "inserted": sync.inserted, "updated": sync.updated,
        "deleted": sync.deleted, "elapsed_s": round(sync.elapsed_s, 1),
    })


@cache
def spark_assets() -> list[AssetsDefinition]:
    """The Spark warehouse's assets (built on first use: only a Spark graph pays for the selection)."""
    return [spark_raw_copy, build_spark_dbt_assets(), spark_segment_member_sync]
