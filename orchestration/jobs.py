"""The jobs operators see: the full cycle, and the clock's share of it.

`refresh_and_activate` (the sensor's, on new raw rows): dbt build, the membership
ledger, every activation channel. `clock_cycle` (the 5-minute schedule's): only what
time alone changes — the dbt selector `clock` in selectors.yml (person_features and
the segments tagged `clock`) — then the ledger and activation; no staging, identity
or marts rebuild when nothing landed.

Both run in process: one run worker executes every step in order, instead of
paying a Python start-up per step, which matters for qualification → send latency.
Blocking checks on the ledger still stop activation inside the run.
"""


from dagster import AssetSelection, define_asset_job, in_process_executor
from dagster_dbt import build_dbt_asset_selection

from orchestration.assets import ACTIVATION_ASSETS, LEDGER_KEY
from orchestration.dbt_assets import gdp_dbt_assets

REFRESH_AND_ACTIVATE = "refresh_and_activate"
CLOCK_CYCLE = "clock_cycle"
CLOCK_SELECTOR = "clock"
JOB_NAMES = (REFRESH_AND_ACTIVATE, CLOCK_CYCLE)

refresh_and_activate_job = define_asset_job(
    REFRESH_AND_ACTIVATE,
    selection=AssetSelection.all() | AssetSelection.all_asset_checks(),
    executor_def=in_process_executor,
    description="dbt build (raw → staging → marts → segments), the membership ledger, then every activation channel.",
)

clock_selection = (
    build_dbt_asset_selection([gdp_dbt_assets], dbt_selector=CLOCK_SELECTOR)
    | AssetSelection.assets(LEDGER_KEY, *ACTIVATION_ASSETS)
)

clock_cycle_job = define_asset_job(
    CLOCK_CYCLE,
    selection=clock_selection,
    executor_def=in_process_executor,
    description="Time-based segments only (dbt selector `clock`: person_features and segments tagged clock), "
    "then the membership ledger and every activation channel.",
)
