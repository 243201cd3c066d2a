"""The demo's report: headline numbers, funnels, trends, segments, sends, attribution.

The numbers come from dbt's report marts (models/marts/reporting/), where analysts
can read and test each rule; this module only lays them out. The page is one
offline HTML file: Vega-Lite charts built with altair and the vega / vega-lite /
vega-embed JavaScript inlined from vl-convert-python, so it opens with no network.
A section whose relations are not built yet says so instead of failing.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from gdp.durations import human_duration


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]


@dataclass
class Section:
    """One part of the page: an id the page and the tests find it by, charts (Vega-Lite specs) and tables."""

    key: str
    title: str
    note: str = ""
    charts: list[dict] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    html: str = ""  # extra markup built here, e.g. KPI cards

    @property
    def has_data(self) -> bool:
        return any(t.rows for t in self.tables) or bool(self.html)


@dataclass
class Report:
    generated_at: datetime
    window: tuple[datetime | None, datetime | None] = (None, None)
    dry_run: bool = False
    previews: Path | None = None
    sections: list[Section] = field(default_factory=list)
    appendix: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections + self.appendix if s.key == key)

    def as_text(self) -> str:
        out = [f"generated at {_when(self.generated_at)}; data window {self.window_text()}"]
        if self.dry_run:
            out.append("dry-run: nothing was sent to any provider; 'dry-run' rows are what would have been sent")
        for s in self.sections + self.appendix:
            out.append(f"\n== {s.title} ==")
            if s.note:
                out.append(f"   {s.note}")
            for t in s.tables:
                if not t.rows:
                    continue
                widths = [max(len(str(c)), *(len(_fmt(r[i])) for r in t.rows)) for i, c in enumerate(t.columns)]
                out.append("   " + "  ".join(str(c).ljust(w) for c, w in zip(t.columns, widths)))
                for r in t.rows:
                    out.append("   " + "  ".join(_fmt(v).ljust(w) for v, w in zip(r, widths)))
        return "\n".join(out)

    def window_text(self) -> str:
        start, end = self.window
        if not start:
            return "no events yet"
        return f"{_when(start)} to {_when(end)} ({human_duration((end - start).total_seconds())})"


def _when(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _pct(share) -> str:
    return "–" if share is None else f"{float(share) * 100:.1f} %"


def _money(cents) -> str:
    return f"${float(cents) / 100:,.2f}"


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def _missing(conn, *relations: str) -> str:
    gone = [r for r in relations if not _exists(conn, r)]
    return f"not built yet: {', '.join(gone)}" if gone else ""


def _rows(conn, query: str) -> list[dict]:
    cur = conn.execute(query)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _plain(rows: list[dict]) -> list[dict]:
    """JSON-ready values for the charts (Decimal and datetime are not)."""
    out = []
    for r in rows:
        out.append({k: (float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, (int, bool)) else
                        v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()})
    return out


# --- charts --------------------------------------------------------------------------------

def _alt():
    import altair as alt

    return alt


def _funnel_chart(rows: list[dict], funnel: str) -> dict:
    alt = _alt()
    data = [{**r, "label": f"{r['persons']:,}" + (f"  ({_pct(r['step_rate'])} of previous)" if r["step_rate"] is not None
                                                   else "")} for r in _plain(rows)]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("step:N", sort=alt.SortField("step_number"), title=None),
        x=alt.X("persons:Q", title="persons who reached this step and every step before it"),
    )
    bars = base.mark_bar(color="#4f7cff")
    labels = base.mark_text(align="left", dx=4).encode(text="label:N")
    return (bars + labels).properties(title=f"{funnel} funnel", width=520, height=32 * len(rows)).to_dict()


def _trend_chart(rows: list[dict]) -> dict:
    alt = _alt()
    return alt.Chart(alt.Data(values=_plain(rows))).mark_line(point=True).encode(
        x=alt.X("day:T", timeUnit="utcyearmonthdate", title="day (UTC)",
                axis=alt.Axis(format="%b %d", tickCount={"interval": "day", "step": 1})),
        y=alt.Y("persons:Q", title="persons"),
        color=alt.Color("metric:N", title=None),
        tooltip=[alt.Tooltip("day:T", timeUnit="utcyearmonthdate"), "metric:N", "persons:Q"],
    ).properties(width=720, height=240).to_dict()


def _segment_charts(rows: list[dict]) -> list[dict]:
    alt = _alt()
    data = _plain(rows)
    charts = [alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("cycle_at:T", title="pipeline cycle"),
        y=alt.Y("members:Q", title="members after the cycle"),
        color=alt.Color("segment:N", title=None, legend=alt.Legend(columns=2)),
        tooltip=["segment:N", "cycle_at:T", "members:Q", "entered:Q", "exited:Q"],
    ).properties(title="segment size per cycle", width=560, height=260).to_dict()]
    last = max(r["cycle_at"] for r in data)
    moves = [{"segment": r["segment"], "move": move, "persons": r[move] if move == "entered" else -r[move]}
             for r in data if r["cycle_at"] == last for move in ("entered", "exited")]
    charts.append(alt.Chart(alt.Data(values=moves)).mark_bar().encode(
        y=alt.Y("segment:N", title=None, sort="-x"),
        x=alt.X("persons:Q", title="persons (exits below zero)"),
        color=alt.Color("move:N", scale=alt.Scale(domain=["entered", "exited"], range=["#2a9d5b", "#d1495b"])),
        tooltip=["segment:N", "move:N", "persons:Q"],
    ).properties(title="entered / exited in the last cycle", width=560).to_dict())
    return charts


OUTCOME_COLORS = {"sent": "#2a9d5b", "dry-run": "#4f7cff", "deferred": "#f4a259", "expired": "#c0392b",
                  "suppressed": "#8d99ae", "held-out": "#b07bd6", "held for approval": "#e9c46a", "failed": "#d1495b",
                  "pending": "#cccccc", "enrolled": "#a8dadc", "tagged": "#d8e2dc"}
# The per-segment summary's columns: what reached a provider or a person, and what did not and why.
# Enrolments and deal tags (outcomes "enrolled", "tagged") stay in the detail table: they send nothing.
SUMMARY_OUTCOMES = ("sent", "dry-run", "deferred", "expired", "suppressed", "held-out")


def _sends_chart(rows: list[dict]) -> dict:
    alt = _alt()
    data = [{**r, "row": f"{r['segment']} · {r['channel']}" + (f" · {r['template']}" if r["template"] else "")}
            for r in _plain(rows)]
    outcomes = sorted({r["outcome"] for r in data}, key=lambda o: list(OUTCOME_COLORS).index(o)
                      if o in OUTCOME_COLORS else 99)
    return alt.Chart(alt.Data(values=data)).mark_bar().encode(
        y=alt.Y("row:N", title=None, sort="-x"),
        x=alt.X("sum(actions):Q", title="actions"),
        color=alt.Color("outcome:N", title="outcome", scale=alt.Scale(
            domain=outcomes, range=[OUTCOME_COLORS.get(o, "#555555") for o in outcomes])),
        tooltip=["segment:N", "channel:N", "template:N", "outcome:N", "reason:N", "actions:Q"],
    ).properties(title="actions per segment, channel and template", width=520).to_dict()


def _attribution_chart(rows: list[dict]) -> dict:
    alt = _alt()
    return alt.Chart(alt.Data(values=_plain(rows))).mark_bar().encode(
        y=alt.Y("campaign_id:N", title=None, sort="-x"),
        x=alt.X("sum(conversions):Q", title="conversions credited"),
        color=alt.Color("conversion_type:N", title="conversion"),
        column=alt.Column("model:N", title=None),
        tooltip=["model:N", "campaign_id:N", "channel:N", "conversion_type:N", "conversions:Q"],
    ).properties(width=300).to_dict()


# --- sections ------------------------------------------------------------------------------

def _kpis(conn, a: str) -> Section:
    s = Section("kpis", "Headline numbers")
    if note := _missing(conn, f"{a}.report_kpi"):
        s.note = note
        return s
    cards, shown_rows = [], []
    for r in _rows(conn, f"select kpi, value, unit, definition from {a}.report_kpi order by kpi_number"):
        value = r["value"]
        shown = ("–" if value is None else _pct(value) if r["unit"] == "share" else _money(value) if r["unit"] == "cents"
                 else f"{int(value):,}")
        cards.append(f"<div class=kpi><div class=kpi-value>{html.escape(shown)}</div>"
                     f"<div class=kpi-name>{html.escape(r['kpi'])}</div>"
                     f"<div class=kpi-def>{html.escape(r['definition'])}</div></div>")
        shown_rows.append((r["kpi"], shown, r["definition"]))
    s.html = "<div class=kpis>" + "".join(cards) + "</div>"
    s.tables = [Table(["kpi", "value", "definition"], shown_rows)]
    return s


def _funnels(conn, a: str) -> Section:
    s = Section("funnels", "Funnels", note="Sequential: a person counts at a step only after every step before it "
                                            "(rules in models/marts/reporting/report_funnel_step.sql).")
    if note := _missing(conn, f"{a}.report_funnel_step"):
        s.note = note
        return s
    rows = _rows(conn, f"select funnel, step_number, step, persons, step_rate, overall_rate "
                       f"from {a}.report_funnel_step order by funnel, step_number")
    for funnel in ("newsletter", "outbound"):
        steps = [r for r in rows if r["funnel"] == funnel]
        if steps:
            s.charts.append(_funnel_chart(steps, funnel))
    s.tables.append(Table(["funnel", "step", "persons", "of previous step", "of first step"],
                          [(r["funnel"], r["step"], r["persons"], _pct(r["step_rate"]), _pct(r["overall_rate"]))
                           for r in rows]))
    return s


def _trends(conn, a: str) -> Section:
    s = Section("trends", "Daily trends", note="Distinct persons per UTC day (report_daily_trend).")
    if note := _missing(conn, f"{a}.report_daily_trend"):
        s.note = note
        return s
    rows = _rows(conn, f"select day, metric, persons from {a}.report_daily_trend order by day, metric")
    if rows:
        s.charts.append(_trend_chart(rows))
    s.tables.append(Table(["metric", "days", "persons (sum over days)"],
                          [(m, sum(1 for r in rows if r["metric"] == m), sum(r["persons"] for r in rows if r["metric"] == m))
                           for m in sorted({r["metric"] for r in rows})]))
    return s


def _segments(conn, a: str) -> Section:
    s = Section("segments", "Segments per cycle", note="From the membership ledger (report_segment_cycle).")
    if note := _missing(conn, f"{a}.report_segment_cycle", f"{a}.segment"):
        s.note = note
        return s
    rows = _rows(conn, f"select segment, cycle_id, cycle_at, entered, exited, merged, held, members "
                       f"from {a}.report_segment_cycle order by cycle_at, segment")
    if rows:
        s.charts.extend(_segment_charts(rows))
    last = {r["segment"]: r for r in rows}
    segments = _rows(conn, f"select segment, funnel, description from {a}.segment order by funnel, segment")
    s.tables.append(Table(
        ["segment", "funnel", "members", "entered (last cycle)", "exited (last cycle)", "held", "note"],
        [(g["segment"], g["funnel"], last.get(g["segment"], {}).get("members", 0),
          last.get(g["segment"], {}).get("entered", 0), last.get(g["segment"], {}).get("exited", 0),
          last.get(g["segment"], {}).get("held", 0),
          "" if last.get(g["segment"], {}).get("members") else f"empty: nobody meets '{(g['description'] or '').strip()[:160]}'")
         for g in segments]))
    cycles = len({r["cycle_id"] for r in rows})
    s.note += f" {len(segments)} segments over {cycles} cycle{'s' if cycles != 1 else ''}."
    return s


def _sends(conn, a: str) -> Section:
    s = Section("sends", "What activation did",
                note="Per segment, channel and template: sent (reached a provider or a person), dry-run (rendered, "
                     "not sent), deferred (frequency cap, waits for its next window), expired (its window passed), "
                     "suppressed (not contactable), held-out (control group), with the reason (report_send); "
                     "sequence enrolments and deal tags are listed in the detail, never counted as sends.")
    if note := _missing(conn, f"{a}.report_send"):
        s.note = note
        return s
    rows = _rows(conn, f"select segment, channel, template, outcome, reason, actions from {a}.report_send "
                       f"order by segment, channel, template, outcome, reason")
    if rows:
        s.charts.append(_sends_chart(rows))
    per_segment: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = per_segment.setdefault(r["segment"], {})
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + r["actions"]
    s.tables.append(Table(["segment", "sent", "dry-run", "deferred", "expired", "suppressed", "held out"],
                          [(seg, *(c.get(o, 0) for o in SUMMARY_OUTCOMES)) for seg, c in sorted(per_segment.items())]))
    s.tables.append(Table(["segment", "channel", "template", "outcome", "reason", "actions"],
                          [tuple(r.values()) for r in rows]))
    return s


def _attribution(conn, a: str) -> Section:
    s = Section("attribution", "Attribution per model")
    if note := _missing(conn, f"{a}.report_attribution"):
        s.note = note
        return s
    rows = _rows(conn, f"select model, campaign_id, channel, conversion_type, conversions, value_cents, mrr_cents, "
                       f"attribution_window_days from {a}.report_attribution order by model, conversions desc")
    window = max((r["attribution_window_days"] or 0 for r in rows), default=0)
    models = sorted({r["model"] for r in rows})
    s.note = (f"{len(models)} models ({', '.join(models)}) over a {window}-day window; each purchase and each won "
              f"deal counts once; value = checkout totals and deal amounts, MRR apart (report_attribution)."
              if rows else "no conversions yet")
    if rows:
        s.charts.append(_attribution_chart(rows))
    shares = attribution_shares(rows)
    s.tables.append(Table(["model", "conversions", "attributed", "(unattributed)", "value credited", "MRR credited"],
                          [(m, f"{v['conversions']:.0f}", _pct(v["attributed_share"]), _pct(v["unattributed_share"]),
                            _money(v["value_cents"]), _money(v["mrr_cents"])) for m, v in shares.items()]))
    totals: dict[tuple, list] = {}
    for r in rows:
        t = totals.setdefault((r["model"], r["campaign_id"], r["channel"]), [0, 0, 0])
        t[0] += r["conversions"]
        t[1] += r["value_cents"]
        t[2] += r["mrr_cents"]
    s.tables.append(Table(["model", "campaign", "channel", "conversions", "value", "MRR"],
                          [(m, c, ch, f"{float(n):.2f}", _money(v), _money(mrr))
                           for (m, c, ch), (n, v, mrr) in sorted(totals.items())]))
    return s


def attribution_shares(rows: list[dict]) -> dict[str, dict]:
    """Per model: conversions, the share credited to a campaign and the '(unattributed)' share, value and MRR."""
    out: dict[str, dict] = {}
    for r in rows:
        m = out.setdefault(r["model"], {"conversions": 0.0, "unattributed": 0.0, "value_cents": 0, "mrr_cents": 0})
        m["conversions"] += float(r["conversions"])
        m["value_cents"] += r["value_cents"]
        m["mrr_cents"] += r["mrr_cents"]
        if r["campaign_id"] == "(unattributed)":
            m["unattributed"] += float(r["conversions"])
    for m in out.values():
        m["unattributed_share"] = m["unattributed"] / m["conversions"] if m["conversions"] else None
        m["attributed_share"] = 1 - m["unattributed_share"] if m["conversions"] else None
    return dict(sorted(out.items()))


def _lift(conn, a: str) -> Section:
    s = Section("lift", "Lift per segment (treated vs holdout)",
                note="Conversion within the attribution window after entering, treated vs held out; lift with a 95 % "
                     "Newcombe hybrid score interval (segment_lift). A segment without a holdout has no lift.")
    if note := _missing(conn, f"{a}.segment_lift"):
        s.note = note
        return s
    rows = _rows(conn, f"select segment, entrants, holdout_size, treated_rate, holdout_rate, lift, lift_low, lift_high "
                       f"from {a}.segment_lift order by segment")
    s.tables.append(Table(["segment", "entrants", "held out", "treated rate", "holdout rate", "lift", "95 % interval"],
                          [(r["segment"], r["entrants"], r["holdout_size"], _pct(r["treated_rate"]),
                            _pct(r["holdout_rate"]), _pct(r["lift"]),
                            "–" if r["lift_low"] is None else f"{_pct(r['lift_low'])} to {_pct(r['lift_high'])}")
                           for r in rows]))
    return s


def _latency(url: str, dry_run: bool) -> Section:
    from activation.latency import latency

    real = [r for r in latency(url) if r.count]
    rows = real or ([r for r in latency(url, include_dry_run=True) if r.count] if dry_run else [])
    which = "real sends" if real else "dry-run renders (no real sends yet)"
    s = Section("latency", "Qualification → send latency",
                note=f"From activation.outbox, {which}: qualifying event time to provider acceptance. In the demo the "
                     "history is simulated days back, so this measures the backfill, not the live path "
                     "(`make bench` measures that).")
    s.tables.append(Table(["channel", "n", "p50", "p95", "max"],
                          [(r.channel, r.count, human_duration(r.p50_s), human_duration(r.p95_s), human_duration(r.max_s))
                           for r in rows]))
    return s


def _match_quality(conn, settings) -> Section:
    from activation.match_quality import measure

    s = Section("match-quality", "Estimated Meta match quality")
    if note := _missing(conn, "activation.outbox"):
        s.note = note
        return s
    m = measure(conn)
    target = settings.check_match_quality_min
    below = m.events and m.score < target
    flag = "below target" if below else "on target"
    s.note = (f"{m.score}/10 over {m.events} CAPI events against a target of {target}/10 "
              f"(GDP_CHECK_MATCH_QUALITY_MIN): {flag if m.events else 'no events yet'}. Our estimate from key "
              f"coverage; Meta does not publish its weights.")
    s.html = (f"<p class='score {'bad' if below else 'good'}'>{m.score}/10 <span>target {target}/10 — "
              f"{html.escape(flag if m.events else 'no events yet')}</span></p>")
    s.tables.append(Table(["key", "share of CAPI events carrying it"],
                          [(key, f"{share * 100:.0f} %") for key, share in m.shares.items()]))
    if m.by_event:
        s.tables.append(Table(["event name", "events", "estimate"],
                              [(name, n, f"{score}/10") for name, (n, score) in m.by_event.items()]))
    return s


def _appendix(conn, a: str, send_stats) -> list[Section]:
    out = []
    if send_stats is not None:
        kinds = sorted(set(send_stats.sent) | set(send_stats.accepted))
        out.append(Section("requests", "Requests sent by the simulator", tables=[Table(
            ["kind", "sent", "accepted", "redeliveries", "failed"],
            [(k, send_stats.sent[k], send_stats.accepted[k], send_stats.duplicates[k], send_stats.failed[k])
             for k in kinds])]))
    raw = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'raw' order by 1")]
    out.append(Section("raw", "Raw rows landed", tables=[Table(["table", "rows"], [
        (t, conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("raw", t))).fetchone()[0])
        for t in raw])]))
    for key, title, relation, columns, query in (
        ("events", "Events per source and type", "event", ["source", "event_type", "events", "persons"],
         "select source, event_type, count(*), count(distinct person_id) from {a}.event group by 1, 2 order by 1, 2"),
        ("persons", "Persons", "person", ["persons", "leads", "users", "customers", "anonymous"],
         "select count(*), count(*) filter (where is_lead), count(*) filter (where is_user), "
         "count(*) filter (where is_customer), count(*) filter (where is_anonymous) from {a}.person"),
        ("identity", "Identity: merges and quarantine", "identity_link",
         ["identifiers", "merged person ids (aliases)", "quarantined components", "quarantined identifiers"],
         "select count(*), count(*) filter (where link_type = 'alias'), count(distinct component_id) "
         "filter (where is_quarantined), count(*) filter (where is_quarantined) from {a}.identity_link"),
        ("capture", "Capture completeness (every raw row is an event or excluded with a reason)", "capture_completeness",
         ["raw table", "raw rows", "events", "excluded", "missing", "captured %"],
         "select raw_table, raw_rows, event_rows, excluded_rows, missing_rows, captured_pct::float "
         "from {a}.capture_completeness order by raw_table"),
    ):
        note = _missing(conn, f"{a}.{relation}")
        rows = [] if note else conn.execute(query.format(a=a)).fetchall()
        out.append(Section(key, title, note=note, tables=[Table(columns, rows)]))
    return out


def build_report(url: str, settings, send_stats=None) -> Report:
    from activation.emails import preview_index

    a = settings.dbt_schema
    report = Report(generated_at=datetime.now(timezone.utc))
    with psycopg.connect(url) as conn:
        if _exists(conn, f"{a}.event"):
            report.window = tuple(conn.execute(f"select min(occurred_at), max(occurred_at) from {a}.event").fetchone())
        if _exists(conn, f"{a}.report_send"):
            report.dry_run = conn.execute(
                f"select exists (select 1 from {a}.report_send where outcome = 'dry-run')").fetchone()[0]
        report.sections = [_kpis(conn, a), _funnels(conn, a), _trends(conn, a), _segments(conn, a), _sends(conn, a),
                           _attribution(conn, a), _lift(conn, a), _latency(url, report.dry_run),
                           _match_quality(conn, settings)]
        report.appendix = _appendix(conn, a, send_stats)
    index = preview_index(settings)
    report.previews = index if index.exists() else None
    return report


# --- the page ------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2230;background:#fff}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
header{border-bottom:1px solid #e3e6ee;margin-bottom:8px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 4px}
.meta{color:#5b6275;margin:0 0 12px}.dry-run{background:#eef2ff;border-left:4px solid #4f7cff;padding:8px 12px}
.note{color:#5b6275;margin:0 0 8px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px;margin:12px 0}
.kpi{border:1px solid #e3e6ee;border-radius:8px;padding:12px}.kpi-value{font-size:24px;font-weight:600}
.kpi-name{font-weight:600}.kpi-def{color:#5b6275;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
td,th{padding:3px 10px;border-bottom:1px solid #e3e6ee;text-align:left;vertical-align:top}
th{color:#5b6275;font-weight:600}
details{margin:8px 0}summary{cursor:pointer;color:#4f7cff}
.score{font-size:22px;font-weight:600;padding:6px 12px;border-radius:6px;display:inline-block}
.score span{font-size:14px;font-weight:400}
.score.bad{color:#fff;background:#d1495b}.score.good{color:#fff;background:#2a9d5b}
#appendix h2{font-size:15px}
"""


def _vega_bundle() -> str:
    """vega, vega-lite and vega-embed in one script, from the pinned vl-convert-python (no CDN)."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())


def _table_html(t: Table) -> str:
    if not t.rows:
        return ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in t.rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section_html(s: Section, charts: list[tuple[str, dict]]) -> str:
    parts = [f"<section id='{s.key}' data-section='{s.key}' data-has-data='{str(s.has_data).lower()}'>",
             f"<h2>{html.escape(s.title)}</h2>"]
    if s.note:
        parts.append(f"<p class=note>{html.escape(s.note)}</p>")
    parts.append(s.html)
    if s.charts:
        parts.append("<div class=charts>")
        for i, spec in enumerate(s.charts):
            chart_id = f"chart-{s.key}-{i}"
            charts.append((chart_id, spec))
            parts.append(f"<div class=chart id='{chart_id}'></div>")
        parts.append("</div>")
    tables = "".join(_table_html(t) for t in s.tables if not (s.key == "kpis"))
    if tables:
        parts.append(f"<details><summary>the numbers</summary>{tables}</details>" if s.charts else tables)
    parts.append("</section>")
    return "".join(parts)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    charts: list[tuple[str, dict]] = []
    body = [f"<header><h1>Growth Data Plane — report</h1><p class=meta>Generated at {_when(report.generated_at)} · "
            f"data window {html.escape(report.window_text())}</p>"]
    if report.dry_run:
        body.append("<p class=dry-run><strong>dry-run</strong>: no provider key was set, so nothing was sent to any "
                    "provider. Counts marked <em>dry-run</em> are what would have been sent.</p>")
    if report.previews:
        href = os.path.relpath(report.previews, path.parent)
        body.append(f"<p><a id=email-previews href='{html.escape(href)}'>Email previews</a> — every rendered email "
                    f"as the recipient would get it.</p>")
    body.append("</header>")
    body.extend(_section_html(s, charts) for s in report.sections)
    body.append("<section id=appendix><h2>Appendix: plumbing</h2>"
                + "".join(_section_html(s, charts) for s in report.appendix) + "</section>")
    specs = json.dumps([{"id": cid, "spec": spec} for cid, spec in charts]).replace("</", "<\\/")
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Growth Data Plane report</title><style>{STYLE}</style>"
        f"<script>{_vega_bundle()}</script></head><body><main>{''.join(body)}</main>"
        "<script>"
        f"const charts = {specs};"
        "Promise.all(charts.map(c => vegaEmbed('#' + c.id, c.spec, {actions: false, renderer: 'svg'})))"
        ".then(() => document.body.dataset.chartsReady = String(charts.length))"
        ".catch(e => { console.error(e); document.body.dataset.chartsReady = 'error'; });"
        "</script></body></html>"
    )
    path.write_text(page)
    return path
