"""Running dbt against the configured database.

`profiles.yml` reads the `GDP_PG*` variables built here from the database URL,
so every dbt invocation of the project (CLI, Dagster, tests) targets the same
database as the ingest app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdp.db import dbt_env
from gdp.settings import REPO_ROOT, Settings, get_settings

# The named selections of selectors.yml: `gdp refresh` and Dagster's cycle build CYCLE_SELECTOR
# (models, seeds, data tests and guards; no unit tests, no full-history tests), CI and the
# nightly run build NIGHTLY_SELECTOR (everything).
CYCLE_SELECTOR = "cycle"
NIGHTLY_SELECTOR = "nightly"


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
    if extra_vars:
        args += ["--vars", json.dumps(dict(extra_vars), sort_keys=True)]
    return args


def dbt_environment(url: str, settings: Settings | None = None, target_path: Path | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    env = dict(os.environ)
    env.update(dbt_env(url))
    env["GDP_DBT_SCHEMA"] = settings.dbt_schema
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if target_path is not None:
        env["DBT_TARGET_PATH"] = str(target_path)
        env["DBT_LOG_PATH"] = str(target_path / "logs")
    return env


def dbt_command(args: list[str]) -> list[str]:
    """The argv for one dbt invocation from the repo's project and profile."""
    dbt = Path(sys.executable).with_name("dbt")
    return [str(dbt), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]


@dataclass
class DbtRun:
    returncode: int
    statuses: Counter
    failures: list[str]
    elapsed_s: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_dbt(
    args: list[str],
    url: str,
    *,
    target_path: Path | None = None,
    stream: bool = False,
    settings: Settings | None = None,
) -> DbtRun:
    target = target_path or REPO_ROOT / "target"
    env = dbt_environment(url, settings, target)
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        dbt_command(args), env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if stream:
            sys.stdout.write(line)
    proc.wait()
    statuses: Counter = Counter()
    failures: list[str] = []
    elapsed = 0.0
    if results_file.exists():
        results = json.loads(results_file.read_text())
        elapsed = results.get("elapsed_time", 0.0)
        for result in results.get("results", []):
            statuses[result["status"]] += 1
            if result["status"] in ("error", "fail"):
                failures.append(f"{result['unique_id']}: {(result.get('message') or '').strip()}")
    return DbtRun(proc.returncode, statuses, failures, elapsed, "".join(lines))
