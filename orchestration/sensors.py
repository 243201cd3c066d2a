"""The raw-landing sensor: refresh and activate when new rows have landed.

Its cursor is the high-water mark of every raw table (max `landing_id`, which the
migrations give each raw table as an identity column, so it only grows). A tick
compares the current marks with the cursor; new rows launch one run, whose
run_key is derived from the marks, so a tick evaluated twice never launches twice.
Runs never overlap: while a run of the job is queued or in progress the tick is
skipped, and the cursor is left where it was, so those rows are picked up next.
"""


import hashlib
import json
from dataclasses import dataclass

import psycopg
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
from psycopg import sql

from gdp.settings import get_settings
from orchestration.jobs import REFRESH_AND_ACTIVATE, refresh_and_activate_job
from orchestration.resources import PostgresResource

RAW_SCHEMA = "raw"
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def raw_high_water_marks(url: str, schema: str = RAW_SCHEMA) -> dict[str, int]:
    """max(landing_id) per raw table; tables listed from information_schema, so a new one is watched."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.columns"
                " where table_schema = %s and column_name = 'landing_id' order by table_name",
                (schema,),
            )
        ]
        if not tables:
            return {}
        query = sql.SQL(" union all ").join(
            sql.SQL("select {name}::text, coalesce(max(landing_id), 0)::bigint from {table}").format(
                name=sql.Literal(table), table=sql.Identifier(schema, table)
            )
            for table in tables
        )
        return {name: int(mark) for name, mark in conn.execute(query)}


def parse_cursor(cursor: str | None) -> dict[str, int]:
    if not cursor:
        return {}
    return {str(k): int(v) for k, v in json.loads(cursor).items()}


def format_cursor(marks: dict[str, int]) -> str:
    return json.dumps(marks, sort_keys=True, separators=(",", ":"))


def new_rows_since(marks: dict[str, int], previous: dict[str, int]) -> dict[str, int]:
    """Tables whose mark moved past the cursor, with how far (ids, not exact row counts)."""
    return {t: m - previous.get(t, 0) for t, m in sorted(marks.items()) if m > previous.get(t, 0)}


def active_run_id(instance: DagsterInstance, job_name: str = REFRESH_AND_ACTIVATE) -> str | None:
    runs = instance.get_runs(filters=RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES), limit=1)
    return runs[0].run_id if runs else None


@dataclass
class SensorDecision:
    run_request: RunRequest | None
    skip_reason: str | None
    cursor: str | None


def decide(marks: dict[str, int], cursor: str | None, running: str | None) -> SensorDecision:
    previous = parse_cursor(cursor)
    moved = new_rows_since(marks, previous)
    if not moved:
        return SensorDecision(None, "No new rows in raw since the last run (high-water mark unchanged).", None)
    summary = ", ".join(f"{t} +{n}" for t, n in moved.items())
    if running:
        return SensorDecision(
            None,
            f"New rows landed ({summary}) but run {running[:8]} of {REFRESH_AND_ACTIVATE} is still queued or "
            "in progress; runs never overlap, so they will be picked up on the next tick after it finishes.",
            None,
        )
    new_cursor = format_cursor(marks)
    request = RunRequest(
        run_key="raw-" + hashlib.sha256(new_cursor.encode()).hexdigest()[:16],
        tags={"gdp/trigger": "raw_landing", "gdp/new_rows": summary[:200]},
    )
    return SensorDecision(request, None, new_cursor)


@sensor(
    job=refresh_and_activate_job,
    minimum_interval_seconds=get_settings().sensor_interval_s,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches refresh_and_activate when rows land in any raw table (cursor: max landing_id per table).",
)
def raw_landing_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    marks = raw_high_water_marks(postgres.url())
    decision = decide(marks, context.cursor, active_run_id(context.instance))
    if decision.run_request is None:
        return SkipReason(decision.skip_reason)
    context.update_cursor(decision.cursor)
    return decision.run_request
