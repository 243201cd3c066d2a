"""The Spark warehouse's share of a cycle (GDP_WAREHOUSE=spark; docs/spark.md).

Postgres keeps the operational side and builds everything not yet ported (identity, the
person marts, segments: what the ledger and activation read); Spark builds the ported
models (dbt selector `spark`) from its own copy of raw. The share has two steps, one home for
`gdp refresh` and for Dagster's assets:
1. `copy_raw_into_spark`, first in the cycle: the landings by watermark, the state tables whole;
2. `build_on_spark`, after Postgres' build: the models Postgres still builds that Spark's read
   (POSTGRES_MODELS, none since Spark builds identity) are copied whole, then
   `dbt build --selector spark --target spark`.
Both run in this process on one SparkSession: dbt-spark's session method reuses it, and the
local Derby catalog admits one process at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from gdp.dbt import DbtRun, run_dbt, spark_build_args
from gdp.raw_copy import TableCopy, copy_postgres_models, copy_raw, copy_snapshots
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

    @property
    def ok(self) -> bool:
        return self.dbt is not None and self.dbt.ok

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
) -> tuple[SparkCopy, DbtRun]:
    started = time.perf_counter()
    linked = SparkCopy(copy_postgres_models(url, _session(settings), settings.dbt_schema))
    linked.elapsed_s = time.perf_counter() - started
    run = run_dbt(spark_build_args(full_refresh), url, target_path=target_path, stream=stream, settings=settings,
                  env={SPARK_DIR_ENV: str(settings.spark_path())})
    return linked, run
