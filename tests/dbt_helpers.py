"""Helpers for the dbt suites: a private database, deliveries through the real app, one build.

Each dbt suite gets its own database (not the session one), because other suites
truncate raw tables or build dbt into the session database while they run.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

from gdp import db as gdb
from gdp.dbt import DbtRun, run_dbt
from gdp.migrate import apply_migrations
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import resend_delivery, stripe_delivery


@contextmanager
def private_database(server_url: str):
    name = f"gdp_dbt_{uuid.uuid4().hex[:10]}"
    url = gdb.create_database(server_url, name)
    apply_migrations(url)
    try:
        yield url
    finally:
        gdb.drop_database(server_url, name)


@contextmanager
def ingest_client(settings, url: str):
    from ingest_app import create_app

    app = create_app(settings, {"TESTING": True, "DATABASE_URL": url})
    try:
        yield app.test_client()
    finally:
        app.extensions["gdp_pool"].close()


def send_resend(client, payload: dict, svix_id: str) -> None:
    delivery = resend_delivery(payload, TEST_SECRETS["resend_webhook_secret"], svix_id=svix_id)
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def send_stripe(client, payload: dict) -> None:
    delivery = stripe_delivery(payload, TEST_SECRETS["stripe_webhook_secret"])
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def build(url: str, target: Path, *args: str) -> DbtRun:
    run = run_dbt(["build", *args], url, target_path=target)
    assert run.ok, "\n".join(run.failures) or run.output[-4000:]
    return run


def rows(url: str, query: str, params=()) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(query, params).fetchall()
