"""`defs`: everything Dagster loads (`dagster dev -m orchestration.definitions`, `gdp dagster`).

Asset graph: raw sources (external) → dbt staging → intermediate → marts → segments
→ membership_ledger (+ blocking checks) → resend_emails, meta_capi_events,
meta_audiences, outbound_sequences, webhooks. `refresh_and_activate` runs it all (the
sensor on raw landing launches it); `clock_cycle` runs only the time-based segments,
the ledger and activation (the 5-minute schedule's); never two at once.
"""

from typing import Any

from dagster import Definitions

from orchestration.assets import ACTIVATION_ASSETS, membership_ledger
from orchestration.checks import all_checks
from orchestration.dbt_assets import gdp_dbt_assets, source_specs
from orchestration.jobs import clock_cycle_job, refresh_and_activate_job
from orchestration.resources import default_resources
from orchestration.schedules import every_five_minutes
from orchestration.sensors import raw_landing_sensor


def build_definitions(resources: dict[str, Any] | None = None) -> Definitions:
    """The project's definitions; tests pass resources pointing at a test database and fakes."""
    return Definitions(
        assets=[*source_specs(), gdp_dbt_assets, membership_ledger, *ACTIVATION_ASSETS],
        asset_checks=all_checks(),
        jobs=[refresh_and_activate_job, clock_cycle_job],
        sensors=[raw_landing_sensor],
        schedules=[every_five_minutes],
        resources={**default_resources(), **(resources or {})},
    )


defs = build_definitions()
