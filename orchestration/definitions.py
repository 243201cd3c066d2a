"""`defs`: everything Dagster loads (`dagster dev -m orchestration.definitions`, `gdp dagster`).

Asset graph: raw sources (external) → dbt staging → intermediate → marts → segments
→ membership_ledger (+ blocking checks) → resend_emails, meta_capi_events,
meta_audiences, outbound_sequences, webhooks; with GDP_WAREHOUSE=spark also spark/raw_copy
(upstream of the sources), one `spark/<node>` asset per node Spark builds (dbt selector
`spark`, the same lineage as Postgres' dbt assets, one step) and spark/segment_member_sync
before the ledger (orchestration/spark_assets.py). `refresh_and_activate` runs it all (the
sensor on raw landing launches it); `clock_cycle` runs only the time-based segments,
the ledger and activation (the 5-minute schedule's); never two at once.
"""

from typing import Any

from dagster import Definitions

from gdp.settings import get_settings
from orchestration.assets import ACTIVATION_ASSETS, ledger_asset, membership_ledger
from orchestration.checks import all_checks
from orchestration.dbt_assets import gdp_dbt_assets, source_specs
from orchestration.jobs import clock_cycle_job, refresh_and_activate_job
from orchestration.resources import default_resources
from orchestration.schedules import every_five_minutes
from orchestration.sensors import raw_landing_sensor
from orchestration.spark_assets import SPARK_RAW_COPY_KEY, SPARK_SEGMENT_SYNC_KEY, spark_assets


def build_definitions(resources: dict[str, Any] | None = None) -> Definitions:
    """The project's definitions; tests pass resources pointing at a test database and fakes.
    With GDP_WAREHOUSE=spark the raw copy, Spark's dbt assets and the sync join the graph, the
    copy upstream of every dbt source."""
    if get_settings().warehouse == "spark":
        warehouse = [*source_specs(upstream=[SPARK_RAW_COPY_KEY]), *spark_assets()]
        ledger = ledger_asset((SPARK_SEGMENT_SYNC_KEY,))
    else:
        warehouse = source_specs()
        ledger = membership_ledger
    return Definitions(
        assets=[*warehouse, gdp_dbt_assets, ledger, *ACTIVATION_ASSETS],
        asset_checks=all_checks(),
        jobs=[refresh_and_activate_job, clock_cycle_job],
        sensors=[raw_landing_sensor],
        schedules=[every_five_minutes],
        resources={**default_resources(), **(resources or {})},
    )


defs = build_definitions()
