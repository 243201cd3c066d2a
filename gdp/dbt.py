"""Running dbt against the configured database.

`profiles.yml` reads the `GDP_PG*` variables built here from the database URL,
so every dbt invocation of the project (CLI, Dagster, tests) targets the same
database as the ingest app.

`run_dbt` invokes dbt in this process (`dbtRunner`): a fresh dbt process costs ~3 s of
imports and start-up before it does anything, which was the floor of every cycle. A stable
target folder keeps dbt's partial parse (`partial_parse.msgpack`) between invocations.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdp.db import dbt_env
from gdp.settings import REPO_ROOT, Settings, get_settings

# The named selections of selectors.yml: `gdp refresh` and Dagster's cycle build CYCLE_SELECTOR
# (models, seeds, data tests and guards; no unit tests, no full-history tests), CI and the
# nightly run build NIGHTLY_SELECTOR (everything).
CYCLE_SELECTOR = "cycle"
NIGHTLY_SELECTOR = "nightly"
# What the Spark warehouse builds (GDP_WAREHOUSE=spark): the ported models, on the `spark` target.
SPARK_SELECTOR = "spark"
SPARK_TARGET = "spark"


def vars_args(extra_vars: Mapping[str, Any] | None) -> list[str]:
    """`--vars` for a build's dbt vars (tests move the clock with `as_of_at`); none when empty."""
    return ["--vars", json.dumps(dict(extra_vars), sort_keys=True)] if extra_vars else []


def cycle_build_args(
    full_refresh: bool = False,
    extra_vars: Mapping[str, Any] | None = None,
    *,
    selector: str | None = CYCLE_SELECTOR,
) -> list[str]:
    """The `dbt build` argv of one cycle, the same for `gdp refresh` and Dagster.

    Dagster passes selector=None: dagster-dbt adds `--selector cycle` itself (its assets are
    defined by the same selector) or, for a subset run, the selected models and their checks.
    Unit tests are excluded by resource type too, so a subset run never pulls them in.
    """
    args = ["build"]
    if selector:
        args += ["--selector", selector]
    if selector != NIGHTLY_SELECTOR:
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    return [*args, *vars_args(extra_vars)]


def spark_build_args(full_refresh: bool = False, extra_vars: Mapping[str, Any] | None = None) -> list[str]:
    """The `dbt build` argv of the Spark warehouse's share of a cycle. Only tests whose every
    parent is built on Spark run there (cautious): a test that also reads a model only Postgres
    builds (a relationship to `person`) runs in Postgres' build."""
    args = ["build", "--selector", SPARK_SELECTOR, "--target", SPARK_TARGET, "--indirect-selection", "cautious"]
    if full_refresh:
        args.append("--full-refresh")
    return [*args, *vars_args(extra_vars)]


# With the Spark warehouse the segments are Spark's (docs/spark.md): Postgres' cycle build leaves
# out the segment models and what reads segment_member; after Spark's build, the sync fills
# Postgres' segment_member (gdp/segment_sync.py) and `after_sync_build_args` builds the rest.
SPARK_OWNED_SEGMENT_PATHS = ("models/segments/newsletter", "models/segments/outbound")
SPARK_OWNED_EXCLUDES = [*(f"path:{path}" for path in SPARK_OWNED_SEGMENT_PATHS), "segment_member+"]


def after_sync_build_args(extra_vars: Mapping[str, Any] | None = None) -> list[str]:
    """Postgres' build after the segment_member sync: segment_member (its purge, index and tests;
    never a full refresh, which would empty the synced rows) and the marts that read it."""
    args = ["build", "--select", "segment_member+", "--exclude", "tag:nightly", "--exclude-resource-type", "unit_test"]
    return [*args, *vars_args(extra_vars)]


# Session settings of dbt's connections (libpq reads PGOPTIONS at connect): the person-level
# marts and the identity graph sort and hash millions of rows, and the default 4 MB work_mem
# spilled them to GBs of temp files. Four threads each get this per sort/hash node, so it is
# sized for a few GB of RAM. A PGOPTIONS already in the environment wins (a pooler that
# refuses startup options takes PGOPTIONS="").
DBT_PGOPTIONS = "-c work_mem=192MB -c maintenance_work_mem=256MB"


def dbt_environment(url: str, settings: Settings | None = None, target_path: Path | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    env = dict(os.environ)
    env.update(dbt_env(url))
    env["GDP_DBT_SCHEMA"] = settings.dbt_schema
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("PGOPTIONS", DBT_PGOPTIONS)
    if target_path is not None:
        env["DBT_TARGET_PATH"] = str(target_path)
        env["DBT_LOG_PATH"] = str(target_path / "logs")
    return env


def dbt_command(args: list[str]) -> list[str]:
    """The argv for one dbt invocation from the repo's project and profile."""
    dbt = Path(sys.executable).with_name("dbt")
    return [str(dbt), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]


@dataclass(frozen=True)
class NodeResult:
    """One node's line of run_results.json (a model, seed, snapshot or test), for callers that
    report per node (Dagster's Spark assets: one materialization per model)."""

    unique_id: str
    status: str
    execution_time: float
    message: str
    rows_affected: int | None = None


@dataclass
class DbtRun:
    returncode: int
    statuses: Counter
    failures: list[str]
    elapsed_s: float
    output: str
    results: list[NodeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


# dbt keeps process-wide state (flags, adapters, the event manager): one invocation at a time.
_DBT_LOCK = threading.Lock()


@contextmanager
def _process_environment(env: Mapping[str, str]) -> Iterator[None]:
    """dbt reads env_var() and its flags from os.environ: set `env` for one invocation, then restore."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_dbt(
    args: list[str],
    url: str,
    *,
    target_path: Path | None = None,
    stream: bool = False,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    write_manifest: bool = True,
) -> DbtRun:
    """One dbt invocation in this process; its log lines are collected (and echoed with `stream`).
    `env` adds variables for this invocation only (the cycle's GDP_CYCLE_SINCE). Without
    `write_manifest` dbt writes no manifest.json (about 1.6 s each time at this project's size,
    twice a build): a cycle whose project is the last one's keeps that manifest as its state;
    run_results.json is still written."""
    from dbt.cli.main import dbtRunner

    target = target_path or REPO_ROOT / "target"
    environment = {**dbt_environment(url, settings, target), **(env or {})}
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    lines: list[str] = []

    def collect(event: Any) -> None:
        info = event.info
        if info.level in ("info", "warn", "error") and info.msg:
            lines.append(info.msg.rstrip() + "\n")
            if stream:
                sys.stdout.write(lines[-1])

    argv = [*args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT), "--log-level", "none", "--no-use-colors"]
    if not write_manifest:
        argv.append("--no-write-json")
    started = time.perf_counter()
    with _DBT_LOCK, _process_environment(environment):
        outcome = dbtRunner(callbacks=[collect]).invoke(argv)
    if not write_manifest and hasattr(outcome.result, "write"):
        outcome.result.write(str(results_file))
    if outcome.exception is not None:
        lines.append(f"dbt raised: {outcome.exception}\n")
    returncode = 0 if outcome.success else (2 if outcome.exception is not None else 1)
    statuses: Counter = Counter()
    failures: list[str] = []
    nodes: list[NodeResult] = []
    elapsed = time.perf_counter() - started
    if results_file.exists():
        results = json.loads(results_file.read_text())
        elapsed = results.get("elapsed_time", elapsed)
        for result in results.get("results", []):
            message = (result.get("message") or "").strip()
            rows = (result.get("adapter_response") or {}).get("rows_affected")
            nodes.append(NodeResult(result["unique_id"], result["status"], float(result.get("execution_time") or 0.0),
                                    message, rows if isinstance(rows, int) else None))
            statuses[result["status"]] += 1
            if result["status"] in ("error", "fail"):
                failures.append(f"{result['unique_id']}: {message}")
    return DbtRun(returncode, statuses, failures, elapsed, "".join(lines), nodes)
