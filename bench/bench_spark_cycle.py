"""The same cycle with Postgres or Spark building the warehouse, side by side at one scale.

    .venv/bin/python bench/bench_spark_cycle.py [--persons 2000] [--events 40000]

Two private databases get the same generated raw rows (bench_warehouse's generator: every
source, identifies, Stripe customers, leads). On one the cycle runs as `gdp refresh` runs it
(Postgres builds everything); on the other as `gdp refresh --warehouse spark` runs it (raw
copied into a local Spark in a temporary folder, Postgres' share of the cycle, Spark's
`dbt build --selector spark`, `segment_member` synced back, then the ledger). Each side runs
a first cycle (the full build) and then one cycle after 10k new raw rows (bench_warehouse's
batch: page views, emails, late identifications). Prints each cycle's wall time and, for
Spark, its steps; figures are printed, never asserted. Spark on two local cores will not
beat Postgres here: the point is that the same project runs on an engine that scales out
(README, "When to switch"). Needs the `[spark]` extra. Both databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_warehouse import GENERATE, execute_script, new_events  # noqa: E402
from gdp import db as gdb  # noqa: E402
from gdp.durations import human_duration  # noqa: E402
from gdp.migrate import apply_migrations  # noqa: E402
from gdp.settings import Settings  # noqa: E402
from orchestration.cycle import run_cycle  # noqa: E402


def generate(url: str, persons: int, events: int) -> int:
    sizes = {"persons": persons, "resend": int(events * 0.2), "posthog": int(events * 0.65),
             "clicks": int(events * 0.03), "customers": int(events * 0.02 / 5), "capi": int(events * 0.01),
             "leads": persons // 5}
    with psycopg.connect(url, autocommit=True) as conn:
        execute_script(conn, GENERATE, sizes)
        conn.execute("analyze")
        return int(conn.execute("select coalesce(sum(n_live_tup), 0) from pg_stat_user_tables where schemaname = 'raw'").fetchone()[0])


def timed_cycle(url: str, settings: Settings, target: Path) -> dict:
    started = time.perf_counter()
    result = run_cycle(url, settings=settings, target_path=target)
    wall = time.perf_counter() - started
    if not result.ok:
        sys.exit("cycle failed:\n" + result.summary())
    figures = {"wall_s": round(wall, 1), "postgres_dbt_s": round(result.dbt.elapsed_s, 1)}
    if result.spark is not None:
        spark = result.spark
        figures.update(raw_copy_s=round(spark.raw.elapsed_s, 1), spark_dbt_s=round(spark.dbt.elapsed_s, 1),
                       sync_s=round(spark.sync.elapsed_s, 1), sync_rows_written=spark.sync.written,
                       after_sync_dbt_s=round(spark.after_sync.elapsed_s, 1))
    return figures


def describe(figures: dict) -> str:
    parts = [f"{human_duration(figures['wall_s'])} in all", f"Postgres dbt {human_duration(figures['postgres_dbt_s'])}"]
    if "spark_dbt_s" in figures:
        parts += [f"raw copy {human_duration(figures['raw_copy_s'])}", f"Spark dbt {human_duration(figures['spark_dbt_s'])}",
                  f"sync {human_duration(figures['sync_s'])} ({figures['sync_rows_written']} rows written)",
                  f"Postgres after the sync {human_duration(figures['after_sync_dbt_s'])}"]
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=40_000)
    args = parser.parse_args()

    base = Settings.from_env()
    server = gdb.database_url(base)
    names = {side: f"gdp_bench_{side}_{uuid.uuid4().hex[:8]}" for side in ("postgres", "spark")}
    figures: dict = {"command": f"python -m bench.bench_spark_cycle --persons {args.persons} --events {args.events}"}
    with tempfile.TemporaryDirectory(prefix="gdp_bench_spark_") as folder:
        try:
            for side, name in names.items():
                url = gdb.create_database(server, name)
                apply_migrations(url)
                rows = generate(url, args.persons, args.events)
                settings = dataclasses.replace(base, warehouse=side, dbt_schema="analytics",
                                               spark_dir=Path(folder) / "spark" if side == "spark" else base.spark_dir)
                print(f"{side}: {rows:,} raw rows generated", flush=True)
                full = timed_cycle(url, settings, Path(folder) / f"{side}_target")
                print(f"{side}: full build (first cycle): {describe(full)}", flush=True)
                with psycopg.connect(url, autocommit=True) as conn:
                    execute_script(conn, new_events("b1"), {"persons": args.persons})
                incremental = timed_cycle(url, settings, Path(folder) / f"{side}_target")
                print(f"{side}: cycle after 10k new raw rows: {describe(incremental)}", flush=True)
                figures[side] = {"raw_rows": rows, "full": full, "after_10k": incremental}
        finally:
            for name in names.values():
                gdb.drop_database(server, name)
    ratio_full = figures["spark"]["full"]["wall_s"] / figures["postgres"]["full"]["wall_s"]
    ratio_cycle = figures["spark"]["after_10k"]["wall_s"] / figures["postgres"]["after_10k"]["wall_s"]
    print(f"\nSpark / Postgres wall time at {args.persons:,} persons, {args.events:,} raw events: "
          f"full build {ratio_full:.1f}x, cycle after 10k rows {ratio_cycle:.1f}x")
    figures.update(spark_over_postgres_full=round(ratio_full, 2), spark_over_postgres_cycle=round(ratio_cycle, 2))
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
