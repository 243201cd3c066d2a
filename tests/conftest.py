"""Shared fixtures: a real PostgreSQL database per test session, migrated.

The database is created on the server behind DATABASE_URL, or on the embedded
server when it is unset, under a unique name, so parallel runs never collide,
and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from gdp import db as gdb
from gdp.migrate import apply_migrations
from gdp.settings import Settings

TEST_SECRETS = {
    "resend_webhook_secret": "whsec_" + "dGVzdC1yZXNlbmQtc2VjcmV0LWZvci1nZHAtdGVzdHM=",
    "stripe_webhook_secret": "whsec_test_stripe_secret_for_gdp_tests",
    "posthog_webhook_secret": "phs_test_posthog_shared_secret",
    "cal_webhook_secret": "cal_test_secret",
    "calendly_webhook_signing_key": "calendly_test_signing_key",
    "tracking_link_secret": "tls_test_tracking_link_secret",
    "api_token": "gdp_test_api_token",
}


@pytest.fixture(scope="session")
def server_url() -> str:
    return gdb.database_url(Settings.from_env())


@pytest.fixture(scope="session")
def database_url(server_url: str):
    name = f"gdp_test_{uuid.uuid4().hex[:10]}"
    url = gdb.create_database(server_url, name)
    apply_migrations(url)
    yield url
    gdb.drop_database(server_url, name)


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=Path(os.environ.get("GDP_DATA_DIR", Settings().data_dir)), **TEST_SECRETS)


@pytest.fixture
def app(settings: Settings, database_url: str):
    from ingest_app import create_app

    application = create_app(settings, {"TESTING": True, "DATABASE_URL": database_url})
    yield application
    application.extensions["gdp_pool"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def clean_raw(conn):
    """Empty every raw table before a test that counts rows."""
    tables = conn.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'raw'"
    ).fetchall()
    if tables:
        conn.execute("truncate " + ", ".join(t for (t,) in tables))
    return conn
