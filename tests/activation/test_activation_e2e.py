"""End to end on the real dbt models: raw rows → dbt → ledger → activation → fake Resend.

Two app signups 30 hours ago, neither activated; one address bounced. The real
`segment`, `segment_member` and `contact_eligibility` models decide; activation
emails the first person "one_minute_setup" and never the bounced one.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from activation.runner import activate
from gdp import db as gdb
from gdp.dbt import run_dbt
from gdp.migrate import apply_migrations
from ledger.membership import record_cycle
from tests.activation_support import fake_resend, make_settings  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e2e_db(server_url):
    name = f"gdp_act_e2e_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    apply_migrations(url)
    yield url
    gdb.drop_database(server_url, name)


def test_signup_segment_emails_the_right_person_and_not_the_bounced_one(e2e_db, fake_resend, tmp_path):
    with psycopg.connect(e2e_db, autocommit=True) as conn:
        for email in ("ada@example.org", "bob@example.org"):
            conn.execute("insert into auth.users (id, email, created_at) values (%s, %s, now() - interval '30 hours')",
                         (uuid.uuid4(), email))
        bounce = {"type": "email.bounced", "created_at": "2026-11-24T10:00:00.000Z",
                  "data": {"email_id": "em_1", "created_at": "2026-11-24T09:59:00.000Z", "from": "hello@example.com",
                           "to": ["bob@example.org"], "subject": "hi", "bounce": {"type": "Permanent", "subType": "General", "message": "no such user"}}}
        conn.execute("insert into raw.resend_event (svix_id, event_type, payload) values ('msg_b1', 'email.bounced', %s)",
                     (json.dumps(bounce),))
    build = run_dbt(["build", "--select", "+path:models/segments", "+path:models/marts/activation", "--resource-type", "model", "--resource-type", "seed"], e2e_db,
                    target_path=Path(tmp_path / "dbt"))
    assert build.ok, build.output[-3000:]
    settings = make_settings(tmp_path, resend=fake_resend, dbt_schema="analytics", email_cap_per_day=5)
    record_cycle(e2e_db, "e2e-1", dbt_schema="analytics", settings=settings)

    report = activate(e2e_db, settings=settings)

    sent_to = sorted(d["email"]["to"][0] for d in fake_resend.delivered)
    assert sent_to == ["ada@example.org"], report.summary()
    with psycopg.connect(e2e_db) as conn:
        rows = conn.execute(
            """select o.segment, o.status, o.error from activation.outbox o
               join analytics.contact_eligibility e using (person_id)
               where e.email = 'bob@example.org' and o.channel = 'email'"""
        ).fetchall()
    assert rows == [("new_signup_no_activation_24h", "skipped_suppressed", "bounced")]
    tags = {t["name"]: t["value"] for t in fake_resend.delivered[0]["email"]["tags"]}
    assert tags["campaign_id"] == "one_minute_setup" and tags["funnel"] == "newsletter" and tags["person_id"]
