"""Preview a segment change before it merges.

dbt compiles the working-tree SQL of one segment (its refs resolve to the live
marts), the result is built into a scratch schema (`<dbt_schema>_preview`), and
compared with the live `segment_member`: who would enter, who would exit, and
whether the blast-radius guard would hold that cycle. Nothing live is touched.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from gdp.dbt import run_dbt
from gdp.settings import Settings, get_settings
from ledger.membership import is_held


class PreviewError(RuntimeError):
    pass


@dataclass
class PreviewResult:
    segment: str
    scratch_relation: str
    live_size: int
    new_size: int
    entering: int
    exiting: int
    would_hold: bool
    is_new_segment: bool
    entering_sample: list[tuple[str, str | None]] = field(default_factory=list)
    exiting_sample: list[tuple[str, str | None]] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"preview of {self.segment} (working tree) vs live"
            + (" — a new segment, nothing live yet" if self.is_new_segment else ""),
            f"  live members: {self.live_size}   working-tree members: {self.new_size}   "
            f"(built into {self.scratch_relation})",
            f"  would enter: {self.entering}   would exit: {self.exiting}",
        ]
        if self.would_hold:
            lines.append("  the blast-radius guard would HOLD this cycle: it needs `gdp segments approve` after merge")
        for title, sample, total in (
            ("entering", self.entering_sample, self.entering),
            ("exiting", self.exiting_sample, self.exiting),
        ):
            if sample:
                lines.append(f"  {title} ({len(sample)} of {total}):")
                lines += [f"    {person_id}  {email or ''}".rstrip() for person_id, email in sample]
        return "\n".join(lines)


def _compiled_sql(url: str, name: str, target: Path, settings: Settings) -> str:
    run = run_dbt(["compile", "--select", name], url, target_path=target, settings=settings)
    if not run.ok:
        raise PreviewError(f"dbt compile of {name} failed:\n{run.output[-2000:]}")
    manifest = json.loads((target / "manifest.json").read_text())
    node = next(
        (n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name), None
    )
    meta = (node or {}).get("config", {}).get("meta", {}) or (node or {}).get("meta", {})
    if node is None or "segment" not in meta:
        raise PreviewError(f"{name} is not a segment model in the working tree (models/segments/<funnel>/{name}.sql with meta.segment)")
    results = json.loads((target / "run_results.json").read_text())["results"]
    compiled = next((r.get("compiled_code") for r in results if r["unique_id"] == node["unique_id"]), None)
    if not compiled:
        raise PreviewError(f"dbt compiled nothing for {name}")
    return compiled


def preview_segment(
    url: str, name: str, *, limit: int = 20, settings: Settings | None = None, target_path: Path | None = None
) -> PreviewResult:
    settings = settings or get_settings()
    schema = settings.dbt_schema
    scratch = f"{schema}_preview"
    with tempfile.TemporaryDirectory(prefix="gdp-preview-") as tmp:
        compiled = _compiled_sql(url, name, Path(target_path or tmp), settings)
    with psycopg.connect(url) as conn:
        s, t, live = sql.Identifier(scratch), sql.Identifier(name), sql.Identifier(schema)
        try:
            with conn.transaction():
                conn.execute(sql.SQL("create schema if not exists {}").format(s))
                conn.execute(sql.SQL("drop table if exists {}.{}").format(s, t))
                conn.execute(sql.SQL("create table {}.{} as ").format(s, t) + sql.SQL(compiled))
        except psycopg.Error as exc:
            raise PreviewError(f"the working-tree SQL of {name} failed: {str(exc).strip()}") from None
        has_person = conn.execute("select to_regclass(%s)", (f"{schema}.person",)).fetchone()[0] is not None
        email = sql.SQL("(select p.email from {}.person as p where p.person_id = d.person_id)").format(live) if has_person else sql.SQL("null::text")
        diff = sql.SQL(
            """
            with new as (select distinct person_id::text as person_id from {s}.{t}),
            old as (select person_id from {live}.segment_member where segment = %(name)s),
            d as (
                select person_id, 'enter' as side from new where person_id not in (select person_id from old)
                union all
                select person_id, 'exit' from old where person_id not in (select person_id from new)
            )
            select d.side, d.person_id, {email}, count(*) over (partition by d.side)
            from d
            order by d.side, d.person_id
            """
        ).format(s=s, t=t, live=live, email=email)
        rows = conn.execute(diff, {"name": name}).fetchall()
        new_size = conn.execute(sql.SQL("select count(*) from {}.{}").format(s, t)).fetchone()[0]
        live_size, known = conn.execute(
            sql.SQL(
                """
                select (select count(*) from {live}.segment_member where segment = %(name)s),
                    exists (select 1 from {live}.segment where segment = %(name)s)
                """
            ).format(live=live),
            {"name": name},
        ).fetchone()
        conn.commit()
    entering = [(p, e) for side, p, e, _ in rows if side == "enter"]
    exiting = [(p, e) for side, p, e, _ in rows if side == "exit"]
    return PreviewResult(
        segment=name,
        scratch_relation=f"{scratch}.{name}",
        live_size=live_size,
        new_size=new_size,
        entering=len(entering),
        exiting=len(exiting),
        would_hold=is_held(len(entering) + len(exiting), live_size, settings),
        is_new_segment=not known,
        entering_sample=entering[:limit],
        exiting_sample=exiting[:limit],
    )
