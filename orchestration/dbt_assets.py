"""The dbt project as Dagster assets: one asset per model, grouped by layer.

Sources become external assets keyed `[schema, table]` (e.g. `raw/resend_event`) so
the UI draws lineage from each raw table, and so the sensor and the freshness checks
can name a raw table's asset without knowing how a staging engineer named its
dbt source. dbt tests surface as asset checks through dagster-dbt.
"""


import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MetadataValue,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from gdp.dbt import CYCLE_SELECTOR, DbtRun, cycle_build_args, dbt_environment, run_dbt
from gdp.settings import get_settings
from orchestration.cycle_plan import plan_cycle, record_success
from orchestration.project import dbt_target_dir, gdp_dbt_project, prepare_manifest
from orchestration.resources import PostgresResource

LAYERS = ("staging", "intermediate", "marts", "segments")
# Environment keys the dbt subprocess needs to target the configured database.
DBT_ENV_KEYS = (
    "GDP_PGHOST",
    "GDP_PGPORT",
    "GDP_PGUSER",
    "GDP_PGPASSWORD",
    "GDP_PGDATABASE",
    "GDP_PGSSLMODE",
    "GDP_DBT_SCHEMA",
    "DBT_TARGET_PATH",
    "PGOPTIONS",
)


class GdpDbtTranslator(DagsterDbtTranslator):
    """Groups assets by the layer folder a model lives in; sources by schema/table."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props.get("identifier") or dbt_resource_props["name"]
            return AssetKey([dbt_resource_props["schema"], table])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        funnel = segment_funnel(dbt_resource_props)
        return f"segments_{funnel}" if funnel else layer_of(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        """dbt's own (a group's owner, meta.dagster.owners), else a segment's `owner` as a Dagster team."""
        owners = super().get_owners(dbt_resource_props)
        if owners:
            return owners
        owner = (segment_meta(dbt_resource_props) or {}).get("owner")
        if not owner:
            return None
        return [owner if "@" in owner or owner.startswith("team:") else f"team:{owner}"]

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
        """Draws segment → segment_member, the way the rows flow.

        Each segment's post-hook writes its rows into segment_member, so dbt must build
        segment_member's table first and the manifest has segment_member upstream of
        every segment. That edge is build order, not lineage: the lineage is the reverse.
        """
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id) or {}
        if is_segment(props):
            return spec.replace_attributes(deps=[dep for dep in spec.deps if dep.asset_key != SEGMENT_MEMBER_KEY])
        if props.get("resource_type") == "model" and props.get("name") == SEGMENT_MEMBER_KEY.path[-1]:
            segments = [
                self.get_asset_key(node)
                for node in manifest["nodes"].values()
                if is_segment(node)
            ]
            return spec.replace_attributes(deps=[*spec.deps, *sorted(segments, key=lambda key: key.to_user_string())])
        return spec


def segment_meta(dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`meta.segment` of a segment model (None for any other node)."""
    if dbt_resource_props.get("resource_type") != "model":
        return None
    meta = (dbt_resource_props.get("config") or {}).get("meta") or dbt_resource_props.get("meta") or {}
    return meta.get("segment") or None


def segment_funnel(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """A segment's funnel, so each funnel's segments form one group in the UI."""
    meta = segment_meta(dbt_resource_props)
    return str(meta.get("funnel")) if meta and meta.get("funnel") else None


SEGMENT_MEMBER_KEY = AssetKey(["segment_member"])


def is_segment(dbt_resource_props: Mapping[str, Any]) -> bool:
    """A segment is a model whose config carries meta.segment (macros/segments/segments.sql)."""
    return segment_meta(dbt_resource_props) is not None


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str:
    resource_type = dbt_resource_props["resource_type"]
    if resource_type == "source":
        return "sources"
    if resource_type == "seed":
        return "seeds"
    fqn = dbt_resource_props.get("fqn") or []
    folder = fqn[1] if len(fqn) > 2 else ""
    return folder if folder in LAYERS else "other"


class DbtBuildConfig(Config):
    """Run config an operator can set on a launched run."""

    full_refresh: bool = False


def build_dbt_args(full_refresh: bool = False, extra_vars: Mapping[str, Any] | None = None) -> list[str]:
    """The cycle's dbt argv (gdp.dbt.cycle_build_args); dagster-dbt adds the selection:
    `--selector cycle` for a whole run (the assets are defined by that selector), the
    subset's models and checks otherwise. The cycle's data tests surface as asset checks."""
    return cycle_build_args(full_refresh, extra_vars, selector=None)


@contextmanager
def dbt_env_for(url: str) -> Iterator[dict[str, str]]:
    """Point dbt at `url` for the duration of one invocation.

    DbtCliResource passes the process environment to dbt, and profiles.yml reads
    GDP_PG* from it; DBT_TARGET_PATH puts each invocation's artifacts under
    Dagster's own target folder (and lets dagster-dbt reuse its partial parse).
    Each run executes in its own process, so the change never leaks across runs;
    the previous values are restored for in-process execution (tests).
    """
    env = dbt_environment(url, target_path=dbt_target_dir())
    wanted = {key: env[key] for key in DBT_ENV_KEYS}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield wanted
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


MANIFEST_PATH = prepare_manifest()
DBT_PROJECT = gdp_dbt_project()
TRANSLATOR = GdpDbtTranslator(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


@dbt_assets(
    manifest=MANIFEST_PATH, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR, name="gdp_dbt", selector=CYCLE_SELECTOR
)
def gdp_dbt_assets(context: AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource, postgres: PostgresResource):
    """A whole run (the sensor's `refresh_and_activate`) builds what the cycle plan says new rows,
    the clock and changed code reach, as `gdp refresh` does; a subset run (the clock job, a
    selection in the UI) builds the selected assets and their checks."""
    if is_whole_run(context) and get_settings().warehouse != "spark":
        yield from planned_build(context, config, postgres.url())
        return
    with dbt_env_for(postgres.url()):
        args = build_dbt_args(config.full_refresh)
        invocation = dbt.cli(args, context=context)
    yield from segment_member_after_segments(invocation.stream())
    # Artifacts of a green run are not needed again; a failed run keeps them for inspection.
    if invocation.is_successful():
        shutil.rmtree(invocation.target_path, ignore_errors=True)


def is_whole_run(context: AssetExecutionContext) -> bool:
    """Every dbt asset and check of the cycle is selected (not a subset run: the clock job's
    assets definition is already cut down to its selection, so compare with the whole node's)."""
    assets_def = context.assets_def
    return (assets_def.keys_by_output_name == assets_def.node_keys_by_output_name
            and assets_def.check_specs_by_output_name == assets_def.node_check_specs_by_output_name)


def cycle_state_target() -> Path:
    """Where the Dagster runs keep their cycle plan state (orchestration/cycle_plan.py), per profile."""
    return dbt_target_dir() / "cycle"


def planned_build(context: AssetExecutionContext, config: DbtBuildConfig, url: str) -> Iterator[Any]:
    """dbt build of what the cycle plan selects, in this process (`gdp.dbt.run_dbt`: no dbt
    start-up, partial parse kept under `cycle_state_target()`), its results as this run's
    outputs and checks.

    The plan's state is recorded only after a green build, as `gdp refresh` does. Models the
    plan leaves out are current (nothing they read moved) and are not reported, except the
    ones the ledger and activation read (`gate_keys`): Dagster skips a step whose upstream
    output is missing, so those are reported as current, not rebuilt. A failed build reports
    what it built and its failing checks, then fails the step.
    """
    schema = get_settings().dbt_schema
    target = cycle_state_target()
    plan = plan_cycle(url, target, schema, full_refresh=config.full_refresh)
    moved = ", ".join(source.split(".", 2)[2] for source in plan.moved) or "none"
    context.log.info(f"cycle plan: {plan.reason}" if plan.reason else f"cycle plan: sources moved: {moved}; plus the clock and changed code")
    run = run_dbt(plan.args, url, target_path=target, stream=True, env=plan.env, write_manifest=not plan.keeps_manifest)
    context.log.info(f"dbt build: {dict(run.statuses)} in {run.elapsed_s:.1f}s")
    manifest = _manifest()
    events = segment_member_after_segments(run_events(run, context, manifest))
    if not run.ok:
        yield from events
        raise Failure(f"the dbt build failed: {len(run.failures)} node(s) failed",
                      metadata={"failures": MetadataValue.json(run.failures or [run.output[-3000:]]),
                                "statuses": MetadataValue.json(dict(run.statuses))})
    yield from with_unchanged_gates(events, context, manifest)
    record_success(plan, url, target, schema)


def run_events(run: DbtRun, context: AssetExecutionContext, manifest: Mapping[str, Any]) -> Iterator[Output | AssetCheckResult]:
    """The build's results in the order dbt finished them (a parent before its children): an
    output per built model or seed of this run, a check result per test of a selected check."""
    assets_def = context.assets_def
    selected = set(context.selected_asset_keys)
    checks = set(context.selected_asset_check_keys)
    for result in run.results:
        node = manifest["nodes"].get(result.unique_id)
        if node is None:
            continue
        metadata = {"dbt_status": result.status, "execution_time_s": round(result.execution_time, 2)}
        if node["resource_type"] == "test":
            key = get_asset_check_key_for_test(manifest, TRANSLATOR, result.unique_id, project=DBT_PROJECT)
            if key in checks and result.status in ("pass", "warn", "fail", "error"):
                yield AssetCheckResult(
                    asset_key=key.asset_key, check_name=key.name, passed=result.status == "pass",
                    severity=AssetCheckSeverity.WARN if result.status == "warn" else AssetCheckSeverity.ERROR,
                    metadata={**metadata, "message": result.message},
                )
        elif result.status == "success":
            key = TRANSLATOR.get_asset_key(node)
            if key in selected:
                if result.rows_affected is not None:
                    metadata["rows_affected"] = result.rows_affected
                yield Output(None, output_name=assets_def.get_output_name_for_asset_key(key), metadata=metadata)


def gate_keys(manifest: Mapping[str, Any]) -> set[AssetKey]:
    """The dbt assets other steps of a run read: the segments layer and the activation marts."""
    return {*model_keys_in_layer("segments", manifest), *model_keys_under("marts/activation", manifest)}


def with_unchanged_gates(events: Iterable[Any], context: AssetExecutionContext, manifest: Mapping[str, Any]) -> Iterator[Any]:
    """`events`, with an output for each selected gate asset dbt did not build, placed before
    the first reported asset that depends on it (Dagster wants outputs in topological order;
    dbt finishes a selected parent before its child starts, so an ancestor not reported by
    then is not being built), and the rest at the end."""
    assets_def = context.assets_def
    deps = assets_def.asset_deps
    pending = gate_keys(manifest) & set(context.selected_asset_keys)

    def unchanged(key: AssetKey, seen: set[AssetKey]) -> Iterator[Output]:
        """Outputs for `key` and its pending ancestors, ancestors first."""
        if key in seen:
            return
        seen.add(key)
        for parent in sorted(deps.get(key, ()), key=lambda k: k.to_user_string()):
            yield from unchanged(parent, seen)
        if key in pending:
            pending.discard(key)
            # segment_member's own table stays; the segments' post-hooks rewrote their rows in it
            reason = ("rows written by the segments' post-hooks" if key == SEGMENT_MEMBER_KEY
                      else "nothing it reads moved since the last cycle")
            yield Output(None, output_name=assets_def.get_output_name_for_asset_key(key),
                         metadata={"rebuilt": False, "reason": reason})

    for event in events:
        if isinstance(event, Output):
            key = assets_def.keys_by_output_name.get(event.output_name)
            if key is None:
                yield event
                continue
            pending.discard(key)
            seen = {key}
            for parent in sorted(deps.get(key, ()), key=lambda k: k.to_user_string()):
                yield from unchanged(parent, seen)
        yield event
    for key in sorted(pending, key=lambda k: k.to_user_string()):
        yield from unchanged(key, set())


def segment_member_after_segments(events: Iterable[Any]) -> Iterator[Any]:
    """dbt's events, with segment_member's (its output and its checks) moved after all others.

    dbt builds segment_member's table before the segments (their post-hooks write into it);
    Dagster, which draws segment → segment_member, needs a multi-asset's outputs in that
    order, and the rows are complete only once every segment has been built anyway.
    """
    held = []
    for event in events:
        if getattr(event, "output_name", None) == SEGMENT_MEMBER_KEY.path[-1] or getattr(event, "asset_key", None) == SEGMENT_MEMBER_KEY:
            held.append(event)
        else:
            yield event
    yield from held


def _manifest() -> dict[str, Any]:
    return json.loads(Path(MANIFEST_PATH).read_text())


def source_specs(manifest: Mapping[str, Any] | None = None, upstream: Sequence[AssetKey] = ()) -> list[AssetSpec]:
    """External assets for every dbt source, so lineage starts at each raw table (after
    `upstream`: the Spark raw copy, when Spark's models read copies of them)."""
    manifest = manifest or _manifest()
    specs: dict[AssetKey, AssetSpec] = {}
    for props in manifest.get("sources", {}).values():
        key = TRANSLATOR.get_asset_key(props)
        if key in specs:
            continue
        specs[key] = AssetSpec(
            key=key,
            group_name="sources",
            description=props.get("description") or f"{props['schema']}.{props.get('identifier') or props['name']}",
            metadata={
                "dagster/table_name": f"{props['schema']}.{props.get('identifier') or props['name']}",
                "loaded_at_field": props.get("loaded_at_field") or "",
            },
            kinds={"postgres"},
            deps=list(upstream),
        )
    return list(specs.values())


def model_keys_in_layer(layer: str, manifest: Mapping[str, Any] | None = None) -> list[AssetKey]:
    manifest = manifest or _manifest()
    return sorted(
        (
            TRANSLATOR.get_asset_key(props)
            for props in manifest.get("nodes", {}).values()
            if props["resource_type"] == "model" and layer_of(props) == layer
        ),
        key=lambda key: key.to_user_string(),
    )


def model_keys_under(folder: str, manifest: Mapping[str, Any] | None = None) -> list[AssetKey]:
    """Models under models/<folder>/ (e.g. "marts/activation"), for assets that read them."""
    manifest = manifest or _manifest()
    parts = folder.split("/")
    return sorted(
        (
            TRANSLATOR.get_asset_key(props)
            for props in manifest.get("nodes", {}).values()
            if props["resource_type"] == "model" and (props.get("fqn") or [])[1:1 + len(parts)] == parts
        ),
        key=lambda key: key.to_user_string(),
    )


def segment_activation_channels(manifest: Mapping[str, Any] | None = None) -> dict[AssetKey, set[str]]:
    """Segment asset → the activation channels its YAML names, for lineage from each segment to its channels."""
    manifest = manifest or _manifest()
    result = {}
    for props in manifest.get("nodes", {}).values():
        meta = segment_meta(props)
        if meta:
            result[TRANSLATOR.get_asset_key(props)] = {str(a.get("channel")) for a in meta.get("activations") or [] if isinstance(a, Mapping)}
    return result


def source_freshness_specs(manifest: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each source's declared freshness (from its YAML), for the freshness checks."""
    manifest = manifest or _manifest()
    out = []
    for props in manifest.get("sources", {}).values():
        out.append(
            {
                "key": TRANSLATOR.get_asset_key(props),
                "schema": props["schema"],
                "table": props.get("identifier") or props["name"],
                "loaded_at_field": props.get("loaded_at_field"),
                "freshness": props.get("freshness") or {},
            }
        )
    return out
