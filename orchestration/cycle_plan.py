"""What one cycle has to build: the part of the `cycle` selection that new data or new code reaches.

A cycle used to rebuild all of `cycle` whatever arrived. The plan starts from a cheap probe
of every dbt source (per table: its newest arrival and how many rows arrived since the last
cycle's newest, minus the event lookback, so a landing that committed late is noticed too)
and from the last successful cycle's manifest (dbt `state:modified`). It builds:

- the descendants of the sources that moved (`source:<name>+`);
- the descendants of the models whose rows depend on the clock (`tag:clock+`: windows,
  "24 h after signup"), so time-based segments qualify with no new event;
- the descendants of whatever changed in the project since the last cycle (`state:modified+`);

and never re-creates a seed, or a view over sources and views, whose definition did not
change (such a view shows new raw rows without being re-created) — unless it reads a model
whose code changed: dbt re-creates that one by dropping the old relation with CASCADE, which
takes the views reading it along, so those are re-created in the same build. The first cycle on a database, a `--full-refresh`, or a
database missing a relation of the last manifest builds the whole `cycle` selection.

What changed code reaches is asked of dbt once (`dbt ls --select state:modified+`), and only
when the project's files differ from the last cycle's (a fingerprint of the dbt project and
the build's vars); the build then names those nodes. The build itself carries no `state:`
selector: dbt evaluates one per node per criterion, and the plan's exclusions made that about
4 s of a 0-row cycle's selection at this project's size.

`event` re-resolves only the identifiers identity rewrote since the last successful cycle
(GDP_IDENTITY_SINCE: int_identity__resolved's newest `written_at` when that cycle ended).

State (the last manifest, the probe taken before that cycle started, the project's
fingerprint and the identity mark) lives per database and dbt schema under the dbt target folder; it is written only
after a successful build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from gdp.dbt import SPARK_OWNED_EXCLUDES, SPARK_OWNED_SEGMENT_PATHS, cycle_build_args, run_dbt, vars_args
from gdp.settings import REPO_ROOT

# Models whose rows change with the clock alone carry this tag (person_features, time-based segments).
CLOCK_TAG = "clock"
# The `cycle` selector of selectors.yml, as CLI exclusions (a YAML selector cannot be
# intersected with a CLI selection; tests/orchestration/test_cycle_plan.py checks the two agree).
CYCLE_EXCLUDES = ["tag:nightly"]


@dataclass
class CyclePlan:
    args: list[str]
    probe: dict[str, list]
    moved: list[str] = field(default_factory=list)
    reason: str = ""
    env: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    # The project is the last cycle's: its manifest stays the state, so the build writes none.
    keeps_manifest: bool = False

    @property
    def incremental(self) -> bool:
        return not self.reason


def state_dir(target: Path, url: str, dbt_schema: str) -> Path:
    """The cycle state of one database and dbt schema (target folders are shared by tests)."""
    key = hashlib.sha256(f"{url}\n{dbt_schema}".encode()).hexdigest()[:16]
    return target / "cycle_state" / key


def _lookback() -> str:
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    return str(project["vars"]["event_lookback"])


def _sources(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(manifest.get("sources", {}).values(), key=lambda source: source["unique_id"])


def probe_sources(url: str, manifest: dict[str, Any], previous: dict[str, list]) -> dict[str, list]:
    """Per source: [newest arrival, rows since (previous newest - lookback), rows since (newest - lookback)].

    Each is one range scan over the arrival index. A source without `loaded_at_field`
    (auth.users) is fingerprinted by row count and newest transaction id instead.
    """
    lookback = _lookback()
    probe: dict[str, list] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for source in _sources(manifest):
            table = sql.Identifier(source["schema"], source["identifier"] or source["name"])
            loaded_at = source.get("loaded_at_field") or (source.get("config") or {}).get("loaded_at_field")
            if loaded_at:
                column = sql.Identifier(loaded_at)
                before = (previous.get(source["unique_id"]) or [None])[0]
                row = conn.execute(
                    sql.SQL(
                        "with newest as (select max({c}) as at from {t})"
                        " select newest.at::text,"
                        " (select count(*) from {t} where {c} >= coalesce(%(before)s::timestamptz, newest.at) - %(lb)s::interval),"
                        " (select count(*) from {t} where {c} >= newest.at - %(lb)s::interval)"
                        " from newest"
                    ).format(c=column, t=table),
                    {"before": before, "lb": lookback},
                ).fetchone()
            else:
                row = conn.execute(
                    sql.SQL("select count(*)::text, max(xmin::text::bigint), null from {t}").format(t=table)
                ).fetchone()
            probe[source["unique_id"]] = list(row)
    return probe


def moved_sources(probe: dict[str, list], previous: dict[str, list]) -> list[str]:
    """Sources whose newest arrival differs from the last cycle's, or that have a different
    number of rows in the last cycle's lookback window (a late commit); for a fingerprinted
    source, whose count or newest transaction id differs."""
    moved = []
    for unique_id, row in probe.items():
        last = previous.get(unique_id)
        if last is None:
            moved.append(unique_id)
        elif row[2] is None:
            if row[:2] != last[:2]:
                moved.append(unique_id)
        elif row[0] != last[0] or row[1] != last[2]:
            moved.append(unique_id)
    return moved


def stable_views(manifest: dict[str, Any]) -> list[str]:
    """Views that survive a cycle: every ancestor is a source, seed, view or incremental model.

    A view over a table model is dropped with it when dbt swaps the table in (Postgres drops
    dependent views with the old relation), so that view is re-created whenever it runs."""
    nodes = manifest.get("nodes", {})
    parents = manifest.get("parent_map", {})
    kinds: dict[str, bool] = {}

    def survives(unique_id: str) -> bool:
        if unique_id not in kinds:
            node = nodes.get(unique_id)
            if node is None:
                kinds[unique_id] = unique_id.startswith("source.")
            elif node["resource_type"] == "seed":
                kinds[unique_id] = True
            else:
                materialized = node["config"].get("materialized")
                kinds[unique_id] = materialized == "incremental" or (
                    materialized == "view" and all(survives(parent) for parent in parents.get(unique_id, []))
                )
        return kinds[unique_id]

    return sorted(
        node["name"] for unique_id, node in nodes.items()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "view" and survives(unique_id)
    )


# The project's files whose change can change what dbt builds (dbt_project.yml's *-paths and
# the files beside it); the fingerprint of a cycle covers them and the build's vars.
PROJECT_FILES = ("dbt_project.yml", "selectors.yml", "packages.yml", "dependencies.yml", "profiles.yml")
PROJECT_PATHS = ("model-paths", "macro-paths", "seed-paths", "snapshot-paths", "test-paths", "analysis-paths")
# What `state:modified+` can name that a build selects (unit tests never run in a cycle).
CHANGED_RESOURCE_TYPES = ("model", "seed", "snapshot", "test")
# The state file of the identity mark (GDP_IDENTITY_SINCE, macros/identity_graph.sql).
IDENTITY_MARK = "identity_mark"


def project_fingerprint(extra_vars: dict[str, Any] | None) -> str:
    """sha256 over the dbt project's files (names and contents), dbt's version and the build's vars:
    equal fingerprints mean the last cycle's manifest still describes the project."""
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    files = [REPO_ROOT / name for name in PROJECT_FILES]
    for key in PROJECT_PATHS:
        for folder in project.get(key, []):
            files += sorted(path for path in (REPO_ROOT / folder).rglob("*") if path.is_file())
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n{json.dumps(extra_vars or {}, sort_keys=True)}\n".encode())
    for path in files:
        if path.is_file():
            digest.update(f"{path.relative_to(REPO_ROOT)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def is_recorded_fingerprint(state: Path, fingerprint: str) -> bool:
    """The project is the one the last successful cycle built."""
    recorded = state / "fingerprint"
    return recorded.exists() and recorded.read_text() == fingerprint


def changed_code_reaches(url: str, target: Path, state: Path, fingerprint: str) -> set[str] | None:
    """Names of the nodes whose code changed since the last cycle and of everything downstream:
    none when the project's fingerprint is the last cycle's, else `dbt ls --select
    state:modified+` (in-process, about 0.6 s). None if dbt cannot tell (the plan then builds all)."""
    if is_recorded_fingerprint(state, fingerprint):
        return set()
    listed = run_dbt(["ls", "--select", "state:modified+", "--resource-type", *CHANGED_RESOURCE_TYPES,
                      "--output", "name", "--state", str(state)], url, target_path=target)
    if not listed.ok:
        return None
    # the output also holds dbt's log lines: keep the names of the project's nodes (ls wrote its manifest)
    nodes = json.loads((target / "manifest.json").read_text()).get("nodes", {}).values()
    names = {node["name"] for node in nodes if node["resource_type"] in CHANGED_RESOURCE_TYPES}
    return {line.strip() for line in listed.output.splitlines()} & names


def _missing_relations(url: str, manifest: dict[str, Any], ignored_paths: tuple[str, ...] = ()) -> list[str]:
    wanted = {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest.get("nodes", {}).values()
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "ephemeral"
        and not node.get("original_file_path", "").startswith(ignored_paths)
    }
    schemas = sorted({schema for schema, _ in wanted})
    with psycopg.connect(url, autocommit=True) as conn:
        present = set(conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = any(%s)", (schemas,)
        ).fetchall())
    return sorted(f"{schema}.{name}" for schema, name in wanted - present)


def without_spark_owned(args: list[str]) -> list[str]:
    """A cycle's argv with the models the Spark warehouse owns left out (the segments and what
    reads segment_member: gdp/dbt.py SPARK_OWNED_EXCLUDES). A YAML selector takes no --exclude,
    so `--selector cycle` becomes its CLI form (CYCLE_EXCLUDES)."""
    args = list(args)
    if "--selector" in args:
        at = args.index("--selector")
        args[at:at + 2] = ["--select", "fqn:*", "--exclude", *CYCLE_EXCLUDES, *SPARK_OWNED_EXCLUDES]
    else:
        at = args.index("--exclude") + 1
        args[at:at] = SPARK_OWNED_EXCLUDES
    return args


def plan_cycle(url: str, target: Path, dbt_schema: str, *, full_refresh: bool = False,
               extra_vars: dict[str, Any] | None = None, spark_owned: bool = False) -> CyclePlan:
    """The dbt argv of this cycle and the probe to record once it succeeded. `spark_owned`
    (the Spark warehouse builds the segments): those are left out of Postgres' build."""
    plan = _plan_cycle(url, target, dbt_schema, full_refresh, extra_vars, spark_owned)
    if spark_owned:
        plan.args = without_spark_owned(plan.args)
    return plan


def _plan_cycle(url: str, target: Path, dbt_schema: str, full_refresh: bool,
                extra_vars: dict[str, Any] | None, spark_owned: bool) -> CyclePlan:
    state = state_dir(target, url, dbt_schema)
    manifest_file = state / "manifest.json"
    previous_manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else None
    probe_manifest = previous_manifest or _parsed_manifest(url, target)
    previous = json.loads((state / "probe.json").read_text()) if (state / "probe.json").exists() else {}
    probe = probe_sources(url, probe_manifest, previous) if probe_manifest else {}
    full = cycle_build_args(full_refresh, extra_vars)
    fingerprint = project_fingerprint(extra_vars)
    if full_refresh:
        return CyclePlan(full, probe, reason="--full-refresh", fingerprint=fingerprint)
    if previous_manifest is None:
        return CyclePlan(full, probe, reason="first cycle on this database", fingerprint=fingerprint)
    missing = _missing_relations(url, previous_manifest, SPARK_OWNED_SEGMENT_PATHS if spark_owned else ())
    if missing:
        return CyclePlan(full, probe, reason=f"relations missing since the last cycle: {', '.join(missing[:5])}",
                         fingerprint=fingerprint)
    keeps_manifest = is_recorded_fingerprint(state, fingerprint)
    changed = changed_code_reaches(url, target, state, fingerprint)
    if changed is None:
        return CyclePlan(full, probe, reason="dbt could not compare the project with the last cycle's",
                         fingerprint=fingerprint)
    moved = moved_sources(probe, previous)
    selection = [f"source:{unique_id.split('.', 2)[2]}+" for unique_id in moved]
    selection += [f"tag:{CLOCK_TAG}+", *sorted(changed)]
    kept = [name for name in stable_views(previous_manifest) if name not in changed]
    seeds = sorted(node["name"] for node in previous_manifest.get("nodes", {}).values()
                   if node["resource_type"] == "seed" and node["name"] not in changed)
    args = [
        "build", "--select", *selection,
        "--exclude", *CYCLE_EXCLUDES, *kept, *seeds,
        "--exclude-resource-type", "unit_test",
        *vars_args(extra_vars),
    ]
    env = {"GDP_CYCLE_SINCE": cycle_since(previous_manifest, previous)}
    if (state / IDENTITY_MARK).exists():
        env["GDP_IDENTITY_SINCE"] = (state / IDENTITY_MARK).read_text()
    return CyclePlan(args, probe, moved, env=env, fingerprint=fingerprint, keeps_manifest=keeps_manifest)


def cycle_since(manifest: dict[str, Any], previous: dict[str, list]) -> str:
    """GDP_CYCLE_SINCE (macros/cycle_window.sql): per raw table as `int_capture__raw_rows` names
    it (raw tables bare, others schema.table), the newest arrival the last cycle had seen."""
    since = {}
    for source in _sources(manifest):
        row = previous.get(source["unique_id"])
        if row and row[2] is not None and row[0] is not None:
            table = source["identifier"] or source["name"]
            since[table if source["schema"] == "raw" else f"{source['schema']}.{table}"] = row[0]
    return json.dumps(since, sort_keys=True)


def _parsed_manifest(url: str, target: Path) -> dict[str, Any]:
    """The project's sources, to probe before a first cycle (`dbt parse` when the target has no manifest)."""
    path = target / "manifest.json"
    if not path.exists():
        parsed = run_dbt(["parse"], url, target_path=target)
        if not parsed.ok:
            return {}
    return json.loads(path.read_text())


def record_success(plan: CyclePlan, url: str, target: Path, dbt_schema: str) -> None:
    """After a successful build: its manifest is the next cycle's state (a plan that kept the last
    one's has none to copy), and the probe taken before it (rows landing during the build count
    as new next time) its watermark. A cycle whose probe failed records none: the next one
    treats every source as moved."""
    state = state_dir(target, url, dbt_schema)
    state.mkdir(parents=True, exist_ok=True)
    if not plan.keeps_manifest:
        shutil.copyfile(target / "manifest.json", state / "manifest.json")
    (state / "probe.json").write_text(json.dumps(plan.probe, sort_keys=True))
    (state / "fingerprint").write_text(plan.fingerprint)
    mark = identity_mark(url, dbt_schema)
    if mark is None:
        (state / IDENTITY_MARK).unlink(missing_ok=True)
    else:
        (state / IDENTITY_MARK).write_text(mark)


def identity_mark(url: str, dbt_schema: str) -> str | None:
    """The newest `written_at` of int_identity__resolved after a successful build: every identifier
    it rewrote up to then, `event` has re-resolved (GDP_IDENTITY_SINCE of the next cycle)."""
    table = f"{dbt_schema}.int_identity__resolved"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select to_regclass(%s) is null", (table,)).fetchone()[0]:
            return None
        row = conn.execute(sql.SQL("select max(written_at)::text from {}").format(
            sql.Identifier(dbt_schema, "int_identity__resolved"))).fetchone()
    return row[0]
