"""The raw-landing sensor: refresh and activate when new rows have landed.

Its cursor is the high-water mark of every raw table (max `landing_id`, which the
migrations give each raw table as an identity column, so it only grows). A tick
compares the current marks with the cursor; new rows launch one run, whose
run_key is derived from the marks, so a tick evaluated twice never launches twice.
Runs never overlap: while a run of the job is queued or in progress the tick is
skipped, and the cursor is left where it was, so those rows are picked up next.
A tick is cheap (one max() per raw table on its identity index), so the default
interval is 3 s: below the daemon's own 5 s sensor loop, so the sensor is evaluated
on every loop. Rows that land while a run works wait only for it to end: the first
tick after it finishes sees marks past the cursor (the marks that run started from)
and requests the follow-up at once, tagged `gdp/trigger=follow_up` with the run it
follows.
Without a cursor (first start) it begins at the marks the last `gdp refresh` or
demo cycle built from (orchestration/watermarks.py), so nothing is rebuilt twice.
"""


import hashlib
import json
from dataclasses import dataclass

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from gdp.settings import get_settings
from orchestration.jobs import JOB_NAMES, refresh_and_activate_job
from orchestration.resources import PostgresResource
from orchestration.watermarks import last_cycle_marks, raw_high_water_marks

ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def parse_cursor(cursor: str | None) -> dict[str, int]:
    if not cursor:
        return {}
    return {str(k): int(v) for k, v in json.loads(cursor).items()}


def format_cursor(marks: dict[str, int]) -> str:
    return json.dumps(marks, sort_keys=True, separators=(",", ":"))


def new_rows_since(marks: dict[str, int], previous: dict[str, int]) -> dict[str, int]:
    """Tables whose mark moved past the cursor, with how far (ids, not exact row counts)."""
    return {t: m - previous.get(t, 0) for t, m in sorted(marks.items()) if m > previous.get(t, 0)}


FINISHED_STATUSES = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]


def latest_finished_run_id(instance: DagsterInstance, job_name: str = refresh_and_activate_job.name) -> str | None:
    runs = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=FINISHED_STATUSES), limit=1)
    return runs[0].run_id if runs else None


def active_run_id(instance: DagsterInstance, job_names: tuple[str, ...] = JOB_NAMES) -> str | None:
    """A queued or running run of either job: the full cycle and the clock's never overlap either."""
    for job_name in job_names:
        runs = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES), limit=1)
        if runs:
            return runs[0].run_id
    return None


@dataclass
class SensorDecision:
    run_request: RunRequest | None
    skip_reason: str | None
    cursor: str | None


def decide(
    marks: dict[str, int], cursor: str | None, running: str | None, finished: str | None = None
) -> SensorDecision:
    """`finished`: the newest finished run, whose start marks the cursor holds; new rows past
    them landed while it ran (or since), so the run requested now is its follow-up."""
    previous = parse_cursor(cursor)
    moved = new_rows_since(marks, previous)
    if not moved:
        return SensorDecision(None, "No new rows in raw since the last run (high-water mark unchanged).", None)
    summary = ", ".join(f"{t} +{n}" for t, n in moved.items())
    if running:
        return SensorDecision(
            None,
            f"New rows landed ({summary}) but run {running[:8]} ({' or '.join(JOB_NAMES)}) is still queued or "
            "in progress; runs never overlap, so they will be picked up on the next tick after it finishes.",
            None,
        )
    new_cursor = format_cursor(marks)
    tags = {"gdp/trigger": "raw_landing", "gdp/new_rows": summary[:200]}
    if finished and previous:
        tags.update({"gdp/trigger": "follow_up", "gdp/follows_run": finished})
    request = RunRequest(run_key="raw-" + hashlib.sha256(new_cursor.encode()).hexdigest()[:16], tags=tags)
    return SensorDecision(request, None, new_cursor)


@sensor(
    job=refresh_and_activate_job,
    minimum_interval_seconds=get_settings().sensor_interval_s,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches refresh_and_activate when rows land in any raw table (cursor: max landing_id per table).",
)
def raw_landing_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    url = postgres.url()
    marks = raw_high_water_marks(url)
    cursor = context.cursor
    if cursor is None:
        # First start: begin where the last `gdp refresh` (or the demo) left off, not from nothing.
        start = last_cycle_marks(url)
        if start is not None:
            cursor = format_cursor(start)
            context.update_cursor(cursor)
    running = active_run_id(context.instance)
    finished = None if running else latest_finished_run_id(context.instance)
    decision = decide(marks, cursor, running, finished)
    if decision.run_request is None:
        return SkipReason(decision.skip_reason)
    context.update_cursor(decision.cursor)
    return decision.run_request
