"""The repo's dbt project as Dagster sees it, with its manifest prepared at load.

dagster-dbt builds assets from `manifest.json`, which a fresh clone does not have
and which goes stale whenever an analyst edits a model. `DbtProject.prepare_if_dev`
only parses under `dagster dev`, so the webserver, the daemon and every run worker
started by `gdp dagster` (or by tests) parse here instead, when the manifest is
missing or older than any file dbt reads. The parse happens under a file lock, so
processes that load the code at the same moment parse once.

Dagster keeps its dbt artifacts in its own folder under the data dir, never in the
analysts' `./target`, and each dbt invocation gets a sub-folder of it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from dagster._utils import run_with_concurrent_update_guard
from dagster_dbt import DbtProject

from gdp.db import dbt_env
from gdp.dbt import dbt_command, dbt_environment
from gdp.settings import REPO_ROOT, Settings, get_settings

# Parsing never connects, but profiles.yml still renders GDP_PGHOST & co., so a
# placeholder URL stands in when DATABASE_URL is unset (the embedded server is
# not started just to load definitions).
PARSE_PLACEHOLDER_URL = "postgresql://postgres@localhost:5432/postgres"

# What dbt reads to build its manifest (dbt_project.yml's *-paths plus the project files).
PROJECT_INPUTS = ("models", "macros", "seeds", "snapshots", "analyses", "tests/dbt")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", "selectors.yml")


class ManifestError(RuntimeError):
    """dbt could not parse the project, so Dagster cannot build its assets."""


def parse_url(settings: Settings) -> str:
    return settings.database_url or PARSE_PLACEHOLDER_URL


def profile_key(settings: Settings) -> str:
    """Short digest of what profiles.yml renders to (never shown, so the password is safe in it).

    dbt drops its partial-parse cache when the rendered profile changes, so the
    manifest for one database is kept apart from another's: runs against the
    database the code was loaded for reuse the parse (seconds instead of ~20 s).
    """
    env = dbt_env(parse_url(settings))
    env["GDP_DBT_SCHEMA"] = settings.dbt_schema
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:10]


def dbt_target_dir(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.data_dir / "dagster" / "dbt_target" / profile_key(settings)


def _newest_input_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    for folder in PROJECT_INPUTS:
        root = project_dir / folder
        if not root.exists():
            continue
        newest = max(newest, root.stat().st_mtime)
        for path in root.rglob("*"):
            newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_stale(manifest_path: Path, project_dir: Path = REPO_ROOT) -> bool:
    if not manifest_path.exists():
        return True
    return _newest_input_mtime(project_dir) > manifest_path.stat().st_mtime


def parse_project(target_dir: Path, settings: Settings | None = None) -> None:
    """`dbt parse` into `target_dir`; raises ManifestError with dbt's own reason."""
    settings = settings or get_settings()
    env = dbt_environment(parse_url(settings), settings, target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        dbt_command(["parse", "--quiet"]), env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise ManifestError(f"dbt parse failed, so the dbt assets cannot load:\n{tail}")


def prepare_manifest(settings: Settings | None = None, *, force: bool = False) -> Path:
    """The path of an up-to-date manifest.json, parsing when it is missing or stale."""
    target_dir = dbt_target_dir(settings)
    manifest_path = target_dir / "manifest.json"
    if force or manifest_is_stale(manifest_path):
        target_dir.mkdir(parents=True, exist_ok=True)
        run_with_concurrent_update_guard(
            manifest_path, lambda: parse_project(target_dir, settings), guard_timeout_seconds=300
        )
        if not manifest_path.exists():
            raise ManifestError(f"dbt parse ran but wrote no manifest at {manifest_path}")
    return manifest_path


def gdp_dbt_project(settings: Settings | None = None) -> DbtProject:
    return DbtProject(project_dir=REPO_ROOT, profiles_dir=REPO_ROOT, target_path=dbt_target_dir(settings))
