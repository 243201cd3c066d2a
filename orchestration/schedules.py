"""Every five minutes, even without new rows: time-based segments ("no activation
in 24 h") qualify by the clock, not by an event, so something must re-evaluate them.
It runs `clock_cycle` — the dbt selector `clock` (person_features and the segments
tagged clock), the ledger and activation — not a full build: new rows are the
sensor's. Like the sensor, a tick while either job's run is queued or in progress is
skipped with a reason.
"""


from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from orchestration.jobs import JOB_NAMES, clock_cycle_job
from orchestration.sensors import active_run_id

EVERY_FIVE_MINUTES = "*/5 * * * *"


@schedule(
    job=clock_cycle_job,
    cron_schedule=EVERY_FIVE_MINUTES,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Re-evaluates time-based segments (dbt selector `clock`), then the ledger and activation, every 5 minutes.",
)
def every_five_minutes(context: ScheduleEvaluationContext):
    running = active_run_id(context.instance)
    if running:
        return SkipReason(
            f"Run {running[:8]} ({' or '.join(JOB_NAMES)}) is still queued or in progress; runs never overlap."
        )
    return RunRequest(tags={"gdp/trigger": "schedule"})
