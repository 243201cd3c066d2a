"""The one job operators see: refresh dbt, record the ledger, activate.

It runs in process: one run worker executes every step in order, instead of
paying a Python start-up per step, which matters for qualification → send latency.
Blocking checks on the ledger still stop activation inside the run.
"""


from dagster import AssetSelection, define_asset_job, in_process_executor

REFRESH_AND_ACTIVATE = "refresh_and_activate"

refresh_and_activate_job = define_asset_job(
    REFRESH_AND_ACTIVATE,
    selection=AssetSelection.all() | AssetSelection.all_asset_checks(),
    executor_def=in_process_executor,
    description="dbt build (raw → staging → marts → segments), the membership ledger, then every activation channel.",
)
