"""The Spark warehouse's share of a cycle (GDP_WAREHOUSE=spark; docs/spark.md).

Postgres keeps the operational side and builds everything not yet ported (identity, the
person marts, segments: what the ledger and activation read); Spark builds the ported
models (dbt selector `spark`) from its own copy of raw. The share has two steps, one home for
`gdp refresh` and for Dagster's assets:
1. `copy_raw_into_spark`, first in the cycle: the landings forget deleted removed from Spark's copies,
   then the landings by watermark, the state tables whole;
2. `build_on_spark`, after Postgres' build: the models Postgres still builds that Spark's read
   (POSTGRES_MODELS, none since Spark builds identity) are copied whole, then
   `dbt build --selector spark --target spark`;
3. `sync_segments`, after a green Spark build: Spark's `segment_member` into Postgres (only the
   changed rows, gdp/segment_sync.py), then Postgres builds what reads it (`segment_member+`:
   the activation marts), and the ledger runs on the synced rows. Postgres' own cycle build
   leaves the segments out (gdp/dbt.py SPARK_OWNED_EXCLUDES): Spark's are the ones that count.
Both run in this process on one SparkSession: dbt-spark's session method reuses it, and the
local Derby catalog admits one process at a time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdp.dbt import DbtRun, after_sync_build_args, run_dbt, spark_build_args
from gdp.raw_copy import TableCopy, copy_postgres_models, copy_raw, copy_snapshots
from gdp.segment_sync import SegmentSync, sync_segment_member
from gdp.settings import Settings
from gdp.spark import SPARK_DIR_ENV, spark_session


@dataclass
class SparkCopy:
    tables: list[TableCopy] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.copied for t in self.tables)

    def summary(self, what: str) -> str:
        return f"spark {what}: {self.rows} rows over {len(self.tables)} tables in {self.elapsed_s:.1f}s"


@dataclass
class SparkStep:
    raw: SparkCopy
    linked: SparkCopy | None = None
    dbt: DbtRun | None = None
    sync: SegmentSync | None = None
    after_sync: DbtRun | None = None

    @property
    def ok(self) -> bool:
        return (self.dbt is not None and self.dbt.ok and self.sync is not None
                and self.after_sync is not None and self.after_sync.ok)

    def summary(self) -> str:
        lines = [self.raw.summary("raw copy")]
        if self.linked is not None:
            lines.append(self.linked.summary("copy of Postgres' models"))
        if self.dbt is None:
            lines.append("spark dbt build: not run (Postgres' build failed)")
        else:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(self.dbt.statuses.items())) or "nothing ran"
            lines.append(f"spark dbt build: {counts} in {self.dbt.elapsed_s:.1f}s")
            lines += [f"  FAILED {failure}" for failure in self.dbt.failures]
            if not self.dbt.ok and not self.dbt.failures:
                lines.append(self.dbt.output[-3000:])
        if self.sync is not None:
            lines.append(self.sync.summary())
        if self.after_sync is not None:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(self.after_sync.statuses.items())) or "nothing ran"
            lines.append(f"postgres dbt build after the sync (segment_member+): {counts} in {self.after_sync.elapsed_s:.1f}s")
            lines += [f"  FAILED {failure}" for failure in self.after_sync.failures]
            if not self.after_sync.ok and not self.after_sync.failures:
                lines.append(self.after_sync.output[-3000:])
        return "\n".join(lines)


def _session(settings: Settings):
    return spark_session(settings.spark_path())


def copy_raw_into_spark(url: str, settings: Settings) -> SparkCopy:
    started = time.perf_counter()
    spark = _session(settings)
    tables = copy_raw(url, spark) + copy_snapshots(url, spark)
    return SparkCopy(tables, time.perf_counter() - started)


def build_on_spark(
    url: str,
    settings: Settings,
    *,
    full_refresh: bool = False,
    stream: bool = False,
    target_path: Path,
    extra_vars: Mapping[str, Any] | None = None,
) -> tuple[SparkCopy, DbtRun]:
    started = time.perf_counter()
    linked = SparkCopy(copy_postgres_models(url, _session(settings), settings.dbt_schema))
    linked.elapsed_s = time.perf_counter() - started
    run = run_dbt(spark_build_args(full_refresh, extra_vars), url, target_path=target_path, stream=stream,
                  settings=settings, env={SPARK_DIR_ENV: str(settings.spark_path())})
    return linked, run


def sync_segments(
    url: str,
    settings: Settings,
    *,
    stream: bool = False,
    target_path: Path,
    extra_vars: Mapping[str, Any] | None = None,
) -> tuple[SegmentSync, DbtRun]:
    """Spark's segment_member into Postgres (only what changed), then Postgres' build of what
    reads it (the activation marts; `target_path` is Postgres' dbt target)."""
    sync = sync_segment_member(url, _session(settings), settings.dbt_schema)
    run = run_dbt(after_sync_build_args(extra_vars), url, target_path=target_path, stream=stream, settings=settings)
    return sync, run
