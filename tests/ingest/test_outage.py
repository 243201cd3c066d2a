"""The database goes away in the middle of a stream of signed deliveries and comes back."""

from __future__ import annotations

import time

import pytest

from gdp.migrate import apply_migrations
from gdp.settings import Settings
from tests.conftest import TEST_SECRETS
from tests.private_postgres import PrivatePostgres
from tools.simulate.deliveries import resend_delivery, stripe_delivery

pytestmark = pytest.mark.slow


@pytest.fixture
def private_pg():
    pg = PrivatePostgres()
    apply_migrations(pg.url)
    yield pg
    pg.close()


def _deliveries(n: int, offset: int):
    out = []
    for i in range(offset, offset + n):
        if i % 2:
            out.append(resend_delivery({"type": "email.opened", "created_at": "2026-11-20T10:00:00Z",
                                        "data": {"email_id": f"em_{i}", "tags": {"person_id": f"p_{i}"}}},
                                       TEST_SECRETS["resend_webhook_secret"], svix_id=f"msg_outage_{i}"))
        else:
            out.append(stripe_delivery({"id": f"evt_outage_{i}", "type": "customer.updated", "created": 1763632800,
                                        "data": {"object": {"id": f"cus_{i}", "object": "customer"}}},
                                       TEST_SECRETS["stripe_webhook_secret"]))
    return out


def _post(client, d):
    return client.post(d.path, data=d.body, headers=d.headers)


def _landed(pg: PrivatePostgres) -> int:
    import psycopg

    with psycopg.connect(pg.url) as conn:
        return conn.execute(
            "select (select count(*) from raw.resend_event) + (select count(*) from raw.stripe_event)"
        ).fetchone()[0]


def test_outage_answers_503_then_resent_deliveries_land_exactly_once(private_pg):
    from ingest_app import create_app

    settings = Settings(db_timeout_s=1.0, **TEST_SECRETS)
    app = create_app(settings, {"TESTING": True, "DATABASE_URL": private_pg.url})
    client = app.test_client()
    try:
        before = _deliveries(20, 0)
        assert [_post(client, d).status_code for d in before] == [200] * 20

        private_pg.stop()
        during = _deliveries(10, 100)
        statuses, slowest = [], 0.0
        for d in during:
            started = time.monotonic()
            statuses.append(_post(client, d).status_code)
            slowest = max(slowest, time.monotonic() - started)
        assert statuses == [503] * 10, "an unstored delivery must never be acknowledged"
        assert slowest < 10, f"a request hung {slowest:.1f}s during the outage"
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json["status"] == "database unavailable"

        private_pg.start()
        # Providers retry the refused deliveries, and some of the stored ones again.
        retries = during + before[:5]
        deadline = time.monotonic() + 60
        pending = list(retries)
        while pending and time.monotonic() < deadline:
            pending = [d for d in pending if _post(client, d).status_code != 200]
            if pending:
                time.sleep(0.5)
        assert pending == [], "the pool did not recover without restarting the app"
        assert client.get("/healthz").status_code == 200
        assert _landed(private_pg) == 30
    finally:
        app.extensions["gdp_pool"].close()
