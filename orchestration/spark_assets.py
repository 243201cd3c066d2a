"""The Spark warehouse in Dagster (GDP_WAREHOUSE=spark): the raw copy as its own asset,
upstream of the dbt sources (the landings Spark's models read are its copies), and the Spark
build of the ported models downstream of the copy (and of any model it still reads from
Postgres' build, POSTGRES_MODELS: none since Spark builds identity and `identity_link`).
Both steps are orchestration/spark_warehouse.py's, shared with `gdp refresh --warehouse spark`;
they run in the run's own process, on one SparkSession.
"""


from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, MetadataValue, asset

from gdp.raw_copy import POSTGRES_MODELS
from gdp.segment_sync import sync_segment_member
from gdp.settings import get_settings
from gdp.spark import spark_session
from orchestration.project import dbt_target_dir
from orchestration.resources import PostgresResource
from orchestration.spark_warehouse import build_on_spark, copy_raw_into_spark

SPARK_RAW_COPY_KEY = AssetKey(["spark", "raw_copy"])
SPARK_WAREHOUSE_KEY = AssetKey(["spark", "warehouse"])
SPARK_SEGMENT_SYNC_KEY = AssetKey(["spark", "segment_member_sync"])


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


@asset(
    key=SPARK_WAREHOUSE_KEY,
    deps=[SPARK_RAW_COPY_KEY, *(AssetKey([model]) for model in POSTGRES_MODELS)],
    group_name="spark",
    kinds={"dbt", "spark"},
    description="dbt build --selector spark --target spark: the ported models (staging, the event "
    "intermediates, event, touches, capture rows, the identity graph and identity_link, the person "
    "marts, the segments) on Spark.",
)
def spark_warehouse(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    settings = get_settings()
    linked, run = build_on_spark(postgres.url(), settings, target_path=dbt_target_dir(settings) / "spark")
    metadata = {
        "statuses": MetadataValue.json(dict(run.statuses)),
        "elapsed_s": round(run.elapsed_s, 1),
        "copied_from_postgres": MetadataValue.json({t.table: t.copied for t in linked.tables}),
    }
    if not run.ok:
        raise Failure("the Spark dbt build failed", metadata={**metadata, "failures": MetadataValue.json(run.failures)})
    return MaterializeResult(metadata=metadata)


@asset(
    key=SPARK_SEGMENT_SYNC_KEY,
    deps=[SPARK_WAREHOUSE_KEY, AssetKey(["segment_member"])],
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


SPARK_ASSETS = [spark_raw_copy, spark_warehouse, spark_segment_member_sync]
