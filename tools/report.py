"""The demo's report: what landed, what dbt made of it, what activation would do.

Each section is a query over the contract tables; a section whose tables are not
built yet says so instead of failing, so the report works at every stage of a
deployment. The same sections render as text and as a self-contained HTML page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[tuple]
    note: str = ""
    chart: bool = False  # render a numeric column as bars in HTML
    chart_column: int = -1


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)

    def as_text(self) -> str:
        out = []
        for s in self.sections:
            out.append(f"\n== {s.title} ==")
            if s.note:
                out.append(f"   {s.note}")
            if s.rows:
                widths = [max(len(str(c)), *(len(_fmt(r[i])) for r in s.rows)) for i, c in enumerate(s.columns)]
                out.append("   " + "  ".join(str(c).ljust(w) for c, w in zip(s.columns, widths)))
                for r in s.rows:
                    out.append("   " + "  ".join(_fmt(v).ljust(w) for v, w in zip(r, widths)))
        return "\n".join(out)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def _query(conn, title, columns, query, *, needs: list[str], note: str = "", chart: bool = False) -> Section:
    missing = [t for t in needs if not _exists(conn, t)]
    if missing:
        return Section(title, columns, [], note=f"not built yet: {', '.join(missing)}")
    return Section(title, columns, conn.execute(query).fetchall(), note=note, chart=chart)


def build_report(url: str, settings, send_stats=None) -> Report:
    a = settings.dbt_schema
    report = Report()
    with psycopg.connect(url) as conn:
        if send_stats is not None:
            kinds = sorted(set(send_stats.sent) | set(send_stats.accepted))
            report.sections.append(Section(
                "Requests sent by the simulator", ["kind", "sent", "accepted", "redeliveries", "failed"],
                [(k, send_stats.sent[k], send_stats.accepted[k], send_stats.duplicates[k], send_stats.failed[k])
                 for k in kinds]))
        raw_tables = [r[0] for r in conn.execute(
            "select tablename from pg_tables where schemaname = 'raw' order by 1").fetchall()]
        counts = [(t, conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("raw", t))).fetchone()[0])
                  for t in raw_tables]
        report.sections.append(Section("Raw rows landed", ["table", "rows"], counts, chart=True))
        report.sections.append(_query(
            conn, "Events per source and type", ["source", "event_type", "events", "persons"],
            f"select source, event_type, count(*), count(distinct person_id) from {a}.event group by 1, 2 order by 1, 2",
            needs=[f"{a}.event"], chart=True))
        report.sections.append(_query(
            conn, "Persons", ["persons", "leads", "users", "customers", "anonymous"],
            f"select count(*), count(*) filter (where is_lead), count(*) filter (where is_user), "
            f"count(*) filter (where is_customer), count(*) filter (where is_anonymous) from {a}.person",
            needs=[f"{a}.person"]))
        report.sections.append(_query(
            conn, "Funnels (persons reaching each step)", ["funnel", "step", "persons"], _FUNNEL_SQL.format(a=a),
            needs=[f"{a}.funnel_outbound", f"{a}.funnel_newsletter"], chart=True))
        report.sections.append(_query(
            conn, "Identity: merges and quarantine", ["identifiers", "merged person ids (aliases)", "quarantined components",
                                                      "quarantined identifiers"],
            f"select count(*), count(*) filter (where link_type = 'alias'), "
            f"count(distinct component_id) filter (where is_quarantined), count(*) filter (where is_quarantined) "
            f"from {a}.identity_link",
            needs=[f"{a}.identity_link"]))
        report.sections.append(_query(
            conn, "Capture completeness (every raw row is an event or excluded with a reason)",
            ["raw table", "raw rows", "events", "excluded", "missing", "captured %"],
            f"select raw_table, raw_rows, event_rows, excluded_rows, missing_rows, captured_pct::float "
            f"from {a}.capture_completeness order by raw_table",
            needs=[f"{a}.capture_completeness"]))
        report.sections.append(_segments(conn, a))
        report.sections.append(_query(
            conn, "Activations by channel", ["channel", "status", "actions"],
            "select channel, status, count(*) from activation.outbox group by 1, 2 order by 1, 2",
            needs=["activation.outbox"], chart=True))
        report.sections.append(_query(
            conn, f"Attribution by campaign (last touch, {_window(conn, a)})",
            ["campaign", "conversions", "checkouts", "subscriptions", "deals won", "revenue_usd"],
            f"select coalesce(last_touch_campaign_id, '(unattributed)'), count(*), "
            f"count(*) filter (where conversion_type = 'checkout_completed'), "
            f"count(*) filter (where conversion_type = 'subscription_started'), "
            f"count(*) filter (where conversion_type = 'deal_won'), "
            f"round(coalesce(sum(revenue_cents), 0) / 100.0, 2)::float "
            f"from {a}.attribution group by 1 order by 6 desc, 2 desc",
            needs=[f"{a}.attribution"], chart=True))
        report.sections.append(_query(
            conn, "Attribution by campaign (first touch)", ["campaign", "conversions", "revenue_usd"],
            f"select coalesce(first_touch_campaign_id, '(unattributed)'), count(*), "
            f"round(coalesce(sum(revenue_cents), 0) / 100.0, 2)::float "
            f"from {a}.attribution group by 1 order by 3 desc, 2 desc",
            needs=[f"{a}.attribution"], chart=True))
        report.sections.append(_match_quality(conn))
        report.sections.append(_latency(url))
    return report


# The steps are dbt models (models/marts/reporting/), so analysts read and test the same definitions.
_FUNNEL_SQL = """
select funnel, step, persons from (
    select 'outbound' as funnel, step_number, step, persons from {a}.funnel_outbound
    union all
    select 'newsletter', step_number, step, persons from {a}.funnel_newsletter
) as funnels
order by funnel desc, step_number
"""


def _window(conn, a: str) -> str:
    if not _exists(conn, f"{a}.attribution"):
        return "window unknown"
    row = conn.execute(f"select max(attribution_window_days) from {a}.attribution").fetchone()
    return f"{row[0]}-day window" if row and row[0] else "no conversions yet"


def _segments(conn, a: str) -> Section:
    """Size per segment, last cycle's moves, and for an empty one the rule nobody met."""
    columns = ["segment", "funnel", "members", "entered", "exited", "note"]
    if not (_exists(conn, f"{a}.segment") and _exists(conn, f"{a}.segment_member")):
        return Section("Segments", columns, [], note="not built yet")
    ledger = _exists(conn, "activation.membership_transition")
    moves = (
        "left join (select segment, count(*) filter (where transition = 'entered') as entered, "
        "count(*) filter (where transition = 'exited') as exited from activation.membership_transition "
        "where cycle_id = (select cycle_id from activation.pipeline_cycle where status = 'succeeded' "
        "order by started_at desc limit 1) group by 1) moves using (segment)"
        if ledger else "left join (select null::text as segment, 0 as entered, 0 as exited) moves using (segment)"
    )
    rows = conn.execute(
        f"select s.segment, s.funnel, count(m.person_id), coalesce(max(moves.entered), 0), "
        f"coalesce(max(moves.exited), 0), s.description "
        f"from {a}.segment s left join {a}.segment_member m using (segment) {moves} "
        f"group by s.segment, s.funnel, s.description order by s.funnel, s.segment"
    ).fetchall()
    shown = [
        (seg, funnel, n, entered, exited, "" if n else f"empty: nobody meets '{(desc or '').strip()[:160]}'")
        for seg, funnel, n, entered, exited, desc in rows
    ]
    empty = sum(1 for r in shown if not r[2])
    return Section("Segments", columns, shown, note=f"{len(shown)} segments, {empty} empty", chart=True,
                   chart_column=2)


def _match_quality(conn) -> Section:
    from activation.match_quality import measure

    if not _exists(conn, "activation.outbox"):
        return Section("Estimated Meta match quality", [], [], note="not built yet")
    m = measure(conn)
    rows = [(key, f"{share * 100:.0f} %") for key, share in m.shares.items()]
    per_event = ", ".join(f"{name} {score}/10 ({n})" for name, (n, score) in m.by_event.items())
    return Section(
        "Estimated Meta match quality", ["key", "share of CAPI events carrying it"], rows,
        note=f"{m.score}/10 over {m.events} events (our estimate from key coverage; Meta does not publish its weights)"
        + (f"; per event: {per_event}" if per_event else ""),
    )


def _latency(url: str) -> Section:
    from activation.latency import latency

    rows = [(r.channel, r.count, r.p50_s, r.p95_s, r.max_s) for r in latency(url, include_dry_run=True)]
    return Section("Qualification → send latency (seconds, dry-run included)", ["channel", "n", "p50", "p95", "max"],
                   rows, note="from activation.outbox: qualifying event time to provider acceptance (or dry-run). "
                   "In the demo the history is simulated days back, so this measures the backfill, not the "
                   "live path: `make bench` measures that.")


def write_html(report: Report, path: Path) -> Path:
    parts = ["<!doctype html><meta charset=utf-8><title>Growth Data Plane demo report</title>",
             "<style>body{font:14px system-ui;margin:2em;max-width:960px}table{border-collapse:collapse;margin:.5em 0 1.5em}"
             "td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}.bar{background:#4f7cff;height:12px}"
             "</style><h1>Growth Data Plane — demo report</h1>"]
    for s in report.sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.note:
            parts.append(f"<p><em>{html.escape(s.note)}</em></p>")
        if not s.rows:
            continue
        col = s.chart_column
        peak = max((r[col] for r in s.rows if isinstance(r[col], (int, float))), default=0) or 1
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in s.columns)
                     + ("<th></th>" if s.chart else "") + "</tr>")
        for r in s.rows:
            cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r)
            if s.chart and isinstance(r[col], (int, float)):
                cells += f"<td><div class=bar style='width:{int(300 * r[col] / peak)}px'></div></td>"
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    path.write_text("\n".join(parts))
    return path
