"""`make demo` in miniature: the real server, a simulated world, a cycle, dry-run activation, the report."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest

from gdp import db as gdb
from gdp.settings import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_database(server_url):
    name = f"gdp_test_demo_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    yield url
    gdb.drop_database(server_url, name)


def test_demo_runs_end_to_end_and_reports_every_source(demo_database, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": demo_database, "GDP_DATA_DIR": str(tmp_path),
           "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "gdp.cli", "demo", "--persons", "120", "--seed", "3"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "0 failed" in out, out[:3000]
    assert (tmp_path / "demo" / "report.html").exists()

    with psycopg.connect(demo_database) as conn:
        sources = {r[0] for r in conn.execute("select distinct source from analytics.event")}
        missing = conn.execute("select coalesce(sum(missing_rows), 0) from analytics.capture_completeness").fetchone()[0]
        outbox = conn.execute("select count(*) from activation.outbox where status = 'dry_run'").fetchone()[0]
    assert {"resend", "stripe", "posthog", "tracking", "meta_capi", "deal", "lead", "app"} <= sources
    assert missing == 0
    assert outbox > 0, "activation planned nothing in dry-run"


def _key_figures(url: str) -> dict:
    with psycopg.connect(url) as conn:
        one = lambda q: conn.execute(q).fetchall()  # noqa: E731
        return {
            "raw": one("select 'click', count(*) from raw.click union all select 'deal_event', count(*) from raw.deal_event "
                       "union all select 'cal', count(*) from raw.cal_event union all select 'calendly', count(*) "
                       "from raw.calendly_event union all select 'stripe', count(*) from raw.stripe_event order by 1"),
            "conversions": one("select conversion_type, count(*), sum(value_cents), sum(mrr_cents) "
                               "from analytics.attribution group by 1 order by 1"),
            "credit": one("select model, campaign_id, channel, conversion_type, conversions, value_cents "
                          "from analytics.report_attribution order by 1, 2, 3, 4"),
        }


def test_demo_twice_gives_the_same_numbers_and_credits_every_path(demo_database, tmp_path):
    """A second `make demo` replays the same world: nothing doubles, every figure stays."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": demo_database, "GDP_DATA_DIR": str(tmp_path),
           "HOME": str(tmp_path)}
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "gdp.cli", "demo", "--persons", "300", "--seed", "5"],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs.append(_key_figures(demo_database))
    first, second = runs
    assert first == second

    credit = first["credit"]
    channels = {row[2] for row in credit if row[1] != "(unattributed)"}
    assert {"email_click", "link_click", "web_session"} <= channels
    for model in ("first touch", "last touch", "linear", "position based"):
        rows = [row for row in credit if row[0] == model]
        total = sum(float(row[4]) for row in rows)
        unattributed = sum(float(row[4]) for row in rows if row[1] == "(unattributed)")
        assert total >= 10 and unattributed / total < 0.15, (model, total, unattributed)
    assert "(unattributed)" in proc.stdout and "position based" in proc.stdout
    assert "checkout_completed" in {row[0] for row in first["conversions"]}
    assert all(row[2] > 0 for row in first["conversions"] if row[0] == "deal_won"), "won deals carry amounts"
