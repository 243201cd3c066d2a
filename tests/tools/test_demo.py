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
