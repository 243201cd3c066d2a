"""One pipeline cycle: dbt build of the `cycle` selection (selectors.yml), then the ledger.

The build covers only what new rows, the clock or changed code reach
(orchestration/cycle_plan.py); the first cycle on a database builds all of it.

The ledger step records what changed in each segment under a new cycle id, which
is what activation acts on. A cycle whose dbt build failed records no
transitions (its cycle row says `failed`): a half-built warehouse must not
look like persons leaving segments.

With GDP_WAREHOUSE=spark (`gdp refresh --warehouse spark`) the cycle also builds the Spark
warehouse (orchestration/spark_warehouse.py): raw is copied into Spark first; Postgres' build
leaves out the segments (Spark's are the ones that count); after it Spark builds the ported
models, its `segment_member` is synced into Postgres (only the changed rows), Postgres builds
what reads it, and then the ledger records the cycle. A failed step on either side records no
transitions. Without the setting the Postgres path is unchanged.

One cycle at a time per database: a cycle holds a session-level advisory lock
for its whole run (released by Postgres when the process dies, so a killed
cycle leaves no stale lock). A second cycle either exits at once with
`CycleBusy`, or, with `wait=True`, queues behind the first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from gdp.dbt import DbtRun, run_dbt
from gdp.settings import REPO_ROOT, Settings, get_settings
from ledger.membership import LedgerResult, new_cycle_id, record_cycle
from orchestration.cycle_plan import CyclePlan, plan_cycle, record_success
from orchestration.spark_warehouse import SparkStep, build_on_spark, copy_raw_into_spark, sync_segments
from orchestration.watermarks import raw_high_water_marks, record_cycle_marks

# pg_advisory_lock key of "a pipeline cycle is running" (gdp/migrate.py uses 7_412_001).
CYCLE_LOCK_KEY = 7_412_002


class CycleBusy(RuntimeError):
    """Another cycle holds the lock on this database."""


@contextmanager
def cycle_lock(url: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the cycle lock on its own connection for the duration of the block."""
    with psycopg.connect(url, autocommit=True, application_name="gdp cycle") as conn:
        if wait:
            conn.execute("select pg_advisory_lock(%s)", (CYCLE_LOCK_KEY,))
        elif not conn.execute("select pg_try_advisory_lock(%s)", (CYCLE_LOCK_KEY,)).fetchone()[0]:
            holder = conn.execute(
                "select a.pid, to_char(a.backend_start at time zone 'UTC', 'HH24:MI:SS') from pg_locks l"
                " join pg_stat_activity a using (pid)"
                " where l.locktype = 'advisory' and l.classid = 0 and l.objid = %s and l.granted",
                (CYCLE_LOCK_KEY,),
            ).fetchone()
            since = f" (database session {holder[0]}, since {holder[1]} UTC)" if holder else ""
            raise CycleBusy(
                f"another pipeline cycle is running against this database{since}; "
                "wait for it to finish, or run with --wait to start right after it"
            )
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (CYCLE_LOCK_KEY,))


@dataclass
class CycleResult:
    dbt: DbtRun
    cycle_id: str | None = None
    ledger: LedgerResult | None = None
    plan: CyclePlan | None = None
    spark: SparkStep | None = None

    @property
    def ok(self) -> bool:
        return self.dbt.ok and (self.spark is None or self.spark.ok)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.dbt.statuses.items())) or "nothing ran"
        lines = []
        if self.plan is not None:
            moved = ", ".join(source.split(".", 2)[2] for source in self.plan.moved) or "none"
            lines.append(f"plan: {self.plan.reason}" if self.plan.reason else f"plan: sources moved: {moved}; plus the clock and changed code")
        lines.append(f"dbt build: {counts} in {self.dbt.elapsed_s:.1f}s")
        lines += [f"  FAILED {failure}" for failure in self.dbt.failures]
        if not self.dbt.ok and not self.dbt.failures:
            lines.append(self.dbt.output[-3000:])
        if self.ledger is not None:
            lines.append(self.ledger.summary())
        elif self.cycle_id and not self.ok:
            lines.append(f"ledger: cycle {self.cycle_id} not recorded because the dbt build failed")
        if self.spark is not None:
            lines.append(self.spark.summary())
        return "\n".join(lines)


def _mark_failed(url: str, cycle_id: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into activation.pipeline_cycle (cycle_id, status, finished_at) values (%s, 'failed', now())
            on conflict (cycle_id) do update set status = 'failed', finished_at = now()
            where activation.pipeline_cycle.status <> 'succeeded'
            """,
            (cycle_id,),
        )


def run_cycle(
    url: str,
    *,
    full_refresh: bool = False,
    stream: bool = False,
    target_path: Path | None = None,
    cycle_id: str | None = None,
    record: bool = True,
    settings: Settings | None = None,
    wait: bool = False,
    extra_vars: Mapping[str, Any] | None = None,
) -> CycleResult:
    """dbt build of the cycle (its data tests are the guards: a failed one fails the build),
    then (when it succeeded and `record`) the ledger under `cycle_id` (new if None).

    Raises `CycleBusy` when another cycle runs on `url`, unless `wait`. `extra_vars` are dbt
    vars of the build (tests move the clock with `as_of_at`).
    """
    settings = settings or get_settings()
    with cycle_lock(url, wait=wait):
        return _run_cycle(url, full_refresh, stream, target_path, cycle_id, record, settings, extra_vars)


def _run_cycle(url: str, full_refresh: bool, stream: bool, target_path: Path | None, cycle_id: str | None,
               record: bool, settings: Settings, extra_vars: Mapping[str, Any] | None) -> CycleResult:
    target = target_path or REPO_ROOT / "target"
    # Taken before the build: a row landing during it is the next cycle's (and the sensor's).
    marks = raw_high_water_marks(url)
    spark = SparkStep(copy_raw_into_spark(url, settings)) if settings.warehouse == "spark" else None
    plan = plan_cycle(url, target, settings.dbt_schema, full_refresh=full_refresh, extra_vars=extra_vars,
                      spark_owned=spark is not None)
    result = CycleResult(run_dbt(plan.args, url, target_path=target, stream=stream, settings=settings, env=plan.env,
                                 write_manifest=not plan.keeps_manifest), plan=plan, spark=spark)
    if spark is not None and result.dbt.ok:
        spark.linked, spark.dbt = build_on_spark(url, settings, full_refresh=full_refresh, stream=stream,
                                                 target_path=target / "spark", extra_vars=extra_vars)
        if spark.dbt.ok:
            # exactly once per cycle, before the ledger reads segment_member
            spark.sync, spark.after_sync = sync_segments(url, settings, stream=stream, target_path=target,
                                                         extra_vars=extra_vars)
    if result.dbt.ok:
        record_success(plan, url, target, settings.dbt_schema)
    if record:
        result.cycle_id = cycle_id or new_cycle_id()
        if result.ok:
            result.ledger = record_cycle(url, result.cycle_id, dbt_schema=settings.dbt_schema, settings=settings)
            record_cycle_marks(url, result.cycle_id, marks)
        else:
            _mark_failed(url, result.cycle_id)
    return result
