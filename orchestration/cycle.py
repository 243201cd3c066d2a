"""One pipeline cycle: dbt build over raw → staging → marts → segments, then the ledger.

The ledger step records what changed in each segment under a new cycle id, which
is what activation acts on. A cycle whose dbt build failed records no
transitions (its cycle row says `failed`): a half-built warehouse must not
look like persons leaving segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from gdp.dbt import DbtRun, run_dbt
from gdp.settings import Settings, get_settings
from ledger.membership import LedgerResult, new_cycle_id, record_cycle
from orchestration.watermarks import raw_high_water_marks, record_cycle_marks


@dataclass
class CycleResult:
    dbt: DbtRun
    cycle_id: str | None = None
    ledger: LedgerResult | None = None

    @property
    def ok(self) -> bool:
        return self.dbt.ok

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.dbt.statuses.items())) or "nothing ran"
        lines = [f"dbt build: {counts} in {self.dbt.elapsed_s:.1f}s"]
        lines += [f"  FAILED {failure}" for failure in self.dbt.failures]
        if not self.dbt.ok and not self.dbt.failures:
            lines.append(self.dbt.output[-3000:])
        if self.ledger is not None:
            lines.append(self.ledger.summary())
        elif self.cycle_id and not self.dbt.ok:
            lines.append(f"ledger: cycle {self.cycle_id} not recorded because the dbt build failed")
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
) -> CycleResult:
    """dbt build, then (when it succeeded and `record`) the ledger under `cycle_id` (new if None)."""
    settings = settings or get_settings()
    args = ["build"] + (["--full-refresh"] if full_refresh else [])
    # Taken before the build: a row landing during it is the next cycle's (and the sensor's).
    marks = raw_high_water_marks(url)
    result = CycleResult(run_dbt(args, url, target_path=target_path, stream=stream, settings=settings))
    if not record:
        return result
    result.cycle_id = cycle_id or new_cycle_id()
    if result.dbt.ok:
        result.ledger = record_cycle(url, result.cycle_id, dbt_schema=settings.dbt_schema, settings=settings)
        record_cycle_marks(url, result.cycle_id, marks)
    else:
        _mark_failed(url, result.cycle_id)
    return result
