"""Spark start-up costs: what the `spark` target pays before it builds anything.

    .venv/bin/python bench/bench_spark.py [--rows 20000]

Prints, on this machine, with the command behind each figure:
  1. a local SparkSession's start in this process (what the test suite pays once);
  2. `dbt parse --target spark` as a fresh process (no JVM: parsing needs no connection);
  3. `dbt seed --target spark` as a fresh process (its own JVM start, the run hooks, 4 seeds);
  4. the raw copy of `--rows` landed Resend rows into Spark, then the same copy again (no new rows).
Figures are printed, never asserted. Everything lives in a temporary folder and a private
database, both removed at the end. Needs the `[spark]` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gdp import db as gdb  # noqa: E402
from gdp.dbt import dbt_command  # noqa: E402
from gdp.migrate import apply_migrations  # noqa: E402
from gdp.raw_copy import copy_raw  # noqa: E402
from gdp.settings import REPO_ROOT, Settings  # noqa: E402
from gdp.spark import SPARK_DIR_ENV, spark_session  # noqa: E402


def timed_dbt(args: list[str], spark_dir: Path, target_path: Path) -> float:
    env = {**os.environ, SPARK_DIR_ENV: str(spark_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    argv = dbt_command([*args, "--target", "spark", "--target-path", str(target_path)])
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"dbt {args[0]} on spark failed:\n{proc.stdout[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    server = gdb.database_url(Settings.from_env())
    name = f"gdp_bench_spark_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server, name)
    result: dict = {"rows": args.rows}
    try:
        apply_migrations(url)
        with psycopg.connect(url) as conn:
            conn.execute(
                "insert into raw.resend_event (svix_id, event_type, received_at, payload)"
                " select 'msg_' || i, 'email.opened', timestamptz '2026-11-01' + i * interval '13 seconds',"
                " jsonb_build_object('type', 'email.opened', 'data', jsonb_build_object('email_id', 'e_' || i))"
                " from generate_series(1, %s) as i",
                (args.rows,),
            )
        with tempfile.TemporaryDirectory(prefix="gdp-bench-spark-") as tmp:
            tmp_path = Path(tmp)
            result["dbt_parse_s"] = timed_dbt(["parse"], tmp_path / "parse", tmp_path / "target-parse")
            print(f"dbt parse --target spark (fresh process):              {result['dbt_parse_s']:6.1f} s")
            result["dbt_seed_s"] = timed_dbt(["seed"], tmp_path / "seed", tmp_path / "target-seed")
            print(f"dbt seed --target spark (fresh process, JVM + hooks):  {result['dbt_seed_s']:6.1f} s")
            started = time.perf_counter()
            spark = spark_session(tmp_path / "copy")
            result["session_start_s"] = time.perf_counter() - started
            print(f"SparkSession start in process:                         {result['session_start_s']:6.1f} s")
            started = time.perf_counter()
            copy_raw(url, spark)
            result["raw_copy_first_s"] = time.perf_counter() - started
            print(f"raw copy, first ({args.rows} resend rows, all raw tables):  {result['raw_copy_first_s']:6.1f} s")
            started = time.perf_counter()
            copy_raw(url, spark)
            result["raw_copy_again_s"] = time.perf_counter() - started
            print(f"raw copy, again (nothing new):                         {result['raw_copy_again_s']:6.1f} s")
            spark.stop()
    finally:
        gdb.drop_database(server, name)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
