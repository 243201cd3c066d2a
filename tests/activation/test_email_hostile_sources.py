"""Issue 13 finding 3 end to end: a hostile name from auth.users, a Stripe customer or a lead, through the real
dbt models into `person.name`, reaches the email only as text and mints no tracked link of its own."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest

from activation.runner import activate
from gdp import db as gdb
from gdp.dbt import run_dbt
from gdp.links import verify_token
from gdp.migrate import apply_migrations
from ledger.membership import record_cycle
from tests.activation_support import fake_resend, make_settings  # noqa: F401  (fixture)

# No spaces: person.first_name is the first word of the name, so each arrives whole.
HOSTILE = {
    "auth@example.org": "[Verify](https://good.example@evil.example/login)",
    "stripe@example.org": '<a/href="https://evil.example/pay">Pay</a>',
    "lead@example.org": "<script>alert(1)</script>{{7*7}}",
}


@pytest.fixture(scope="module")
def hostile_db(server_url):
    name = f"gdp_hostile_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    apply_migrations(url)
    yield url
    gdb.drop_database(server_url, name)


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_hostile_names_from_each_source_reach_the_email_as_text(hostile_db, fake_resend, tmp_path):
    with psycopg.connect(hostile_db, autocommit=True) as conn:
        for email in HOSTILE:
            meta = {"full_name": HOSTILE[email]} if email.startswith("auth") else {}
            conn.execute("insert into auth.users (id, email, created_at, raw_user_meta_data) values (%s, %s, now() - interval '30 hours', %s)",
                         (uuid.uuid4(), email, json.dumps(meta)))
        customer = {"id": "evt_hostile_1", "type": "customer.created", "created": 1_764_000_000, "livemode": False,
                    "data": {"object": {"object": "customer", "id": "cus_hostile", "email": "stripe@example.org",
                                        "name": HOSTILE["stripe@example.org"], "created": 1_764_000_000, "metadata": {}}}}
        conn.execute("insert into raw.stripe_event (stripe_event_id, event_type, payload) values ('evt_hostile_1', 'customer.created', %s)",
                     (json.dumps(customer),))
        conn.execute("insert into raw.lead (email, name) values ('lead@example.org', %s)", (HOSTILE["lead@example.org"],))
    # The segments and the activation marts (activation waits while activation_holdout is not built).
    build = run_dbt(["build", "--select", "+path:models/segments", "+path:models/marts/activation", "--resource-type", "model",
                     "--resource-type", "seed"], hostile_db, target_path=Path(tmp_path / "dbt"))
    assert build.ok, build.output[-3000:]
    with psycopg.connect(hostile_db) as conn:
        names = dict(conn.execute("select email, name from analytics.person where email = any(%s)", (list(HOSTILE),)).fetchall())
    assert names == HOSTILE, "each source's name is the person's name (the attack reaches the template)"
    settings = make_settings(tmp_path, resend=fake_resend, dbt_schema="analytics")
    record_cycle(hostile_db, "hostile-1", dbt_schema="analytics", settings=settings)

    activate(hostile_db, settings=settings, channels=["resend_emails"])

    sent = {d["email"]["to"][0]: d["email"] for d in fake_resend.delivered}
    assert set(sent) == set(HOSTILE)
    for address, email in sent.items():
        hrefs = re.findall(r'href="([^"]+)"', email["html"])
        assert hrefs and all(h.startswith("https://t.example.com/") for h in hrefs), (address, hrefs)
        destinations = [verify_token(settings.tracking_link_secret, h.rsplit("/c/", 1)[1]).url for h in hrefs if "/c/" in h]
        assert destinations == ["http://localhost:3000/onboarding"], (address, destinations)
        assert not re.search(r"<(script|a/href)", email["html"], re.I), address
        assert re.findall(r"https?://\S+", email["text"]).count(destinations[0]) == 0, "text shows the tracked link only"
        assert len(re.findall(r"https://t\.example\.com/c/\S+", email["text"])) == 1, address
        # The tracked link's token is random and may hold "49"; the words around it may not.
        words = re.sub(r"https?://\S+", "", email["text"])
        assert "49" not in words and "49" not in email["subject"], "a name is never evaluated"
    assert "{{7*7}}" in sent["lead@example.org"]["text"], "the name arrives as the text it is"
    assert "&lt;script&gt;" in sent["lead@example.org"]["html"].lower()
    assert "&lt;a/href=" in sent["stripe@example.org"]["html"].lower()
    assert "[Verify](Https://Good.Example@Evil.Example/Login)" in sent["auth@example.org"]["text"]
