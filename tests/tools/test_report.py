"""The report as its reader gets it: `gdp demo`'s page opened in headless Chromium, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from gdp import db as gdb
from gdp.settings import REPO_ROOT
from tests.ingest.test_browser_snippet import CHROMIUM_ARGS
from tests.setup_browser import ensure_chromium

pytestmark = pytest.mark.slow

SECTIONS = ["kpis", "funnels", "trends", "segments", "sends", "attribution", "lift", "latency", "match-quality"]
APPENDIX = ["requests", "raw", "events", "capture"]
# The docs screenshot is refreshed on request only (GDP_UPDATE_DOCS_SCREENSHOT=1), so a test run never edits the tree.
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "report.png"


@pytest.fixture(scope="module")
def demo_world(server_url, tmp_path_factory):
    """A demo-sized world: the real `gdp demo` on its own database and data dir."""
    data_dir = tmp_path_factory.mktemp("report")
    name = f"gdp_test_report_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "GDP_DATA_DIR": str(data_dir), "HOME": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "gdp.cli", "demo", "--persons", "150", "--days", "7", "--seed", "5"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield url, data_dir
    gdb.drop_database(server_url, name)


@pytest.fixture(scope="module")
def opened_report(demo_world):
    """The page loaded from file:// with every request and console message recorded."""
    _, data_dir = demo_world
    report = data_dir / "demo" / "report.html"
    requests, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_function("document.body.dataset.chartsReady !== undefined", timeout=30_000)
        yield page, requests, errors, data_dir
        browser.close()


def test_every_section_renders_with_data_offline(opened_report):
    page, requests, errors, _ = opened_report
    assert page.evaluate("document.body.dataset.chartsReady") != "error", errors
    for key in SECTIONS + APPENDIX:
        section = page.locator(f"section[data-section='{key}']")
        assert section.count() == 1, f"section {key} missing"
        assert section.get_attribute("data-has-data") == "true", f"section {key} has no data: {section.inner_text()[:300]}"
    charts = page.locator("div.chart")
    assert charts.count() >= 6
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg").count() >= 1, f"chart {charts.nth(i).get_attribute('id')} did not draw"
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "about:", "blob:"))] == []


def test_reads_as_a_report_not_plumbing(opened_report, demo_world):
    page, _, _, data_dir = opened_report
    url, _ = demo_world
    text = page.locator("main").inner_text()
    assert re.search(r"Generated at \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert re.search(r"data window \d{4}-\d\d-\d\d .* to \d{4}-\d\d-\d\d", text)
    assert page.locator(".kpi").count() == 6
    for kpi in ("sign-ups", "activation rate", "paid conversion", "MRR", "booked calls", "won deals"):
        assert kpi in page.locator("section[data-section='kpis']").inner_text()
    # dry-run is spelled out and nothing reads "dry_run"; the plumbing sits below every section.
    assert "dry-run" in page.locator(".dry-run").inner_text() and "dry_run" not in text
    assert page.locator("#appendix section[data-section='requests']").count() == 1
    # Latency in human units, never raw seconds like 223,917.97 s.
    latency = page.locator("section[data-section='latency'] table").inner_text()
    assert not re.search(r"\d{4,}(\.\d+)? s", latency.replace(",", "")), latency
    # Match quality against its target, red below it.
    from activation.match_quality import measure

    score = page.locator("section[data-section='match-quality'] .score")
    assert "target 6.0/10" in score.inner_text()
    with psycopg.connect(url) as conn:
        measured = measure(conn)
    expected = "bad" if measured.events and measured.score < 6.0 else "good"
    assert expected in score.get_attribute("class").split(), (measured.score, score.get_attribute("class"))
    # The email previews link points at a real file.
    href = page.locator("#email-previews").get_attribute("href")
    assert (data_dir / "demo" / href).resolve().is_file()
    # Each funnel is sequential: no step larger than the one before.
    with psycopg.connect(url) as conn:
        rows = conn.execute("select funnel, persons from analytics.report_funnel_step order by funnel, step_number").fetchall()
    for funnel in {f for f, _ in rows}:
        counts = [n for f, n in rows if f == funnel]
        assert counts == sorted(counts, reverse=True) and counts[0] > 0, (funnel, counts)


def test_screenshot_for_the_docs(opened_report, tmp_path):
    page, _, _, _ = opened_report
    update_docs = os.environ.get("GDP_UPDATE_DOCS_SCREENSHOT") == "1"
    shot = DOCS_SCREENSHOT if update_docs else tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": 1180, "height": 1800})
    assert shot.stat().st_size > 10_000
