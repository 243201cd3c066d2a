"""Shared set-up for the activation tests: a private database, hand-made dbt relations, fakes.

The segments and marts engineers' dbt models may not be built in a test
database, so the relations activation reads (`segment`, `person`,
`person_features`, `contact_eligibility`, `event`, `deal`) are created here with
the contract's columns, in a schema of the test's own (`settings.dbt_schema`), so
they never collide with a real dbt build in the shared test database.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import unquote_plus

import psycopg
import pytest

from gdp import db as gdb
from gdp.migrate import apply_migrations
from gdp.settings import Settings
from tests.fakes.meta_api import FakeMeta
from tests.fakes.resend_api import FakeResend

SCHEMA = "act_analytics"
ACTIVATION_TABLES = (
    "activation.outbox", "activation.transition_processed", "activation.email_send", "activation.audience_member",
    "activation.sequence_enrollment", "activation.deal_annotation", "activation.membership_transition",
)


@pytest.fixture(scope="module")
def act_db(server_url):
    name = f"gdp_act_{uuid.uuid4().hex[:10]}"
    url = gdb.create_database(server_url, name)
    apply_migrations(url)
    yield url
    gdb.drop_database(server_url, name)


def reset(url: str, schema: str = SCHEMA) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate " + ", ".join(ACTIVATION_TABLES) + ", raw.meta_capi_event restart identity")
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.execute(f'create schema "{schema}"')
        conn.execute(f"""
            create table "{schema}".segment (segment text primary key, funnel text, description text, owner text,
                priority int, holdout_share numeric default 0, activations jsonb, version_hash text);
            create table "{schema}".person (person_id text primary key, email text, name text, phone text);
            create table "{schema}".person_features (person_id text primary key, plan text, pricing_views_7d int);
            create table "{schema}".contact_eligibility (person_id text primary key, email text, is_contactable boolean,
                suppression_reason text);
            create table "{schema}".event (event_id text primary key, person_id text, event_type text, occurred_at timestamptz,
                properties jsonb default '{{}}'::jsonb);
            create table "{schema}".deal (deal_id text primary key, person_id text, email text, owner text, objection text);
        """)


@pytest.fixture
def db(act_db):
    reset(act_db)
    return act_db


def add_segment(url: str, segment: str, activations: list[dict], *, funnel: str = "newsletter", holdout_share: float = 0.0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f'insert into "{SCHEMA}".segment (segment, funnel, holdout_share, activations) values (%s, %s, %s, %s)',
            (segment, funnel, holdout_share, json.dumps(activations)),
        )


def add_person(url: str, person_id: str, email: str | None, *, phone: str | None = None, name: str | None = None,
               contactable: bool = True, reason: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'insert into "{SCHEMA}".person values (%s, %s, %s, %s)', (person_id, email, name, phone))
        conn.execute(f'insert into "{SCHEMA}".person_features values (%s, %s, %s)', (person_id, "pro", 2))
        conn.execute(f'insert into "{SCHEMA}".contact_eligibility values (%s, %s, %s, %s)',
                     (person_id, email, contactable, reason))


def add_people(url: str, n: int, prefix: str = "p") -> list[str]:
    """n contactable persons in one round trip each table (the crash test needs 1,000)."""
    ids = [f"{prefix}{i:05d}" for i in range(n)]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(f'insert into "{SCHEMA}".person values (%s, %s, %s, null)', [(p, f"{p}@example.org", f"Name {p}") for p in ids])
            cur.executemany(f'insert into "{SCHEMA}".contact_eligibility values (%s, %s, true, null)', [(p, f"{p}@example.org") for p in ids])
    return ids


def add_transition(url: str, segment: str, person_id: str, transition: str = "entered", *, cycle: str = "c1",
                   held: bool = False, context: dict | None = None, merged_into: str | None = None) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            """insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at, context,
                   is_held, merged_into_person_id)
               values (%s, %s, %s, %s, now() - interval '5 minutes', %s, %s, %s) returning transition_id""",
            (cycle, segment, person_id, transition, json.dumps(context or {}), held, merged_into),
        ).fetchone()[0]


def add_transitions(url: str, segment: str, person_ids: list[str], cycle: str = "c1") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at) values (%s, %s, %s, 'entered', now())",
                [(cycle, segment, p) for p in person_ids],
            )


def query(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def make_settings(tmp_path: Path, *, resend: FakeResend | None = None, meta: FakeMeta | None = None, **overrides) -> Settings:
    values = dict(
        data_dir=tmp_path,
        dbt_schema=SCHEMA,
        tracking_link_secret="tls_test_tracking_link_secret",
        public_base_url="https://t.example.com",
        resend_requests_per_second=0.0,
        provider_backoff_s=0.01,
        activation_retry_base_s=30.0,
        email_cap_per_day=5,
        email_cap_per_week=10,
    )
    if resend is not None:
        values.update(resend_api_key=resend.api_key, resend_api_base=resend.url)
    if meta is not None:
        values.update(meta_access_token=meta.access_token, meta_graph_base=meta.url, meta_pixel_id=meta.pixel_id,
                      meta_graph_version=meta.version)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def fake_resend():
    fake = FakeResend().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_meta():
    fake = FakeMeta().start()
    yield fake
    fake.stop()


EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
NUMBER_RE = re.compile(r"\+?[\d\s\-().]{7,}")


def assert_no_plain_pii(requests: list[dict], emails: list[str], phones: list[str]) -> None:
    """No email address and no phone number (in any spelling) in any request the fake saw, raw or URL-decoded."""
    assert requests, "the fake received nothing, so nothing was checked"
    # The last 8 digits (the subscriber number) catch a phone however it was written or prefixed.
    wanted = [re.sub(r"\D", "", p)[-8:] for p in phones]
    for r in requests:
        raw = (r["path"] + "?" + r.get("query", "") + "\n" + r["body"].decode("utf-8", "replace"))
        for blob in (raw, unquote_plus(raw)):
            unhashed = re.sub(r"[0-9a-fA-F]{64}", "", blob)
            leak = EMAIL_RE.search(unhashed)
            assert not leak, f"email address left for Meta unhashed: {leak.group(0)!r}"
            for email in emails:
                assert email.strip().lower() not in blob.lower(), f"{email!r} left unhashed"
            numbers = [re.sub(r"\D", "", m).lstrip("0") for m in NUMBER_RE.findall(unhashed)]
            for digits in wanted:
                assert not any(digits in n for n in numbers), f"phone {digits} left unhashed"
