"""Shared set-up for the activation tests: a private database, the relations activation reads, fakes.

The relations activation reads are not hand-written here: once per test process
the real dbt models are built (empty) into a scratch database, and each test's
schema (`settings.dbt_schema`) gets their columns and types as they came out
(tables activation reads are recreated empty for tests to fill) and the real view
definitions of the activation marts on top of them. A column activation asks for
that no model produces fails here as it would in production.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import uuid
from pathlib import Path
from urllib.parse import unquote_plus

import psycopg
import pytest
from psycopg import sql

from gdp import db as gdb
from gdp.dbt import run_dbt
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
    _server_urls[url] = server_url
    yield url
    gdb.drop_database(server_url, name)


# dbt tables tests fill by hand, and the views (in dependency order) activation reads on top of them.
TABLES = ("segment", "person", "person_features", "contact_eligibility", "event", "deal", "identity_link",
          "int_privacy__identity_hashes")
# Seeds keep their rows: they are the definitions (event_vocabulary says which events go to Meta).
SEEDS = ("event_vocabulary",)
VIEWS = ("stg_ledger__membership_transitions", "int_privacy__forgotten_persons", "stg_meta__capi_events", "stg_tracking__clicks", "activation_recipient",
         "activation_holdout", "activation_meta_conversion", "activation_meta_user")


@functools.cache
def model_ddl(server_url: str) -> tuple[str, ...]:
    """`create` statements for TABLES and VIEWS as dbt builds them, taken from a real (empty) build."""
    name = f"gdp_actddl_{uuid.uuid4().hex[:10]}"
    url = gdb.create_database(server_url, name)
    try:
        apply_migrations(url)
        with tempfile.TemporaryDirectory() as target:
            run = run_dbt(["build", "--resource-type", "model", "--resource-type", "seed", "--select",
                           *(f"+{m}" for m in TABLES + SEEDS + VIEWS)],
                          url, target_path=Path(target),
                          settings=Settings(dbt_schema=SCHEMA))
        assert run.ok, "\n".join(run.failures) or run.output[-4000:]
        statements = []
        with psycopg.connect(url) as conn:
            # The SQL functions dbt's on-run-start creates (identifier normalization), which views call.
            statements += [r[0] for r in conn.execute(
                """select pg_get_functiondef(p.oid) from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
                   where n.nspname = %s order by p.proname""", (SCHEMA,)).fetchall()]
            for table in TABLES:
                cols = conn.execute(
                    """select quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) from pg_attribute
                       where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum""",
                    (f'"{SCHEMA}"."{table}"',),
                ).fetchall()
                statements.append(f'create table "{SCHEMA}"."{table}" ({", ".join(c[0] for c in cols)})')
            for seed in SEEDS:
                cols = conn.execute(
                    """select quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) from pg_attribute
                       where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum""",
                    (f'"{SCHEMA}"."{seed}"',),
                ).fetchall()
                statements.append(f'create table "{SCHEMA}"."{seed}" ({", ".join(c[0] for c in cols)})')
                rows = conn.execute(f'select * from "{SCHEMA}"."{seed}"').fetchall()
                values = sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, r))) for r in rows)
                statements.append(sql.SQL("insert into {} values {}").format(sql.Identifier(SCHEMA, seed), values).as_string(conn))
            for view in VIEWS:
                (definition,) = conn.execute("select pg_get_viewdef(%s::regclass)", (f'"{SCHEMA}"."{view}"',)).fetchone()
                statements.append(f'create view "{SCHEMA}"."{view}" as {definition}')
        return tuple(statements)
    finally:
        gdb.drop_database(server_url, name)


def reset(url: str, schema: str = SCHEMA, server_url: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate " + ", ".join(ACTIVATION_TABLES) + ", raw.meta_capi_event, raw.click restart identity")
        conn.execute(f'drop schema if exists "{schema}" cascade')
        conn.execute(f'create schema "{schema}"')
        for statement in model_ddl(server_url or _server_urls[url]):
            conn.execute(statement)


_server_urls: dict[str, str] = {}


@pytest.fixture
def db(act_db):
    reset(act_db)
    return act_db


def add_segment(url: str, segment: str, activations: list[dict], *, funnel: str = "newsletter", holdout_share: float = 0.0,
                priority: int = 100) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f'insert into "{SCHEMA}".segment (segment, funnel, holdout_share, activations, priority) values (%s, %s, %s, %s, %s)',
            (segment, funnel, holdout_share, json.dumps(activations), priority),
        )


def add_person(url: str, person_id: str, email: str | None, *, name: str | None = None,
               contactable: bool = True, reason: str | None = None, **contact: str) -> None:
    """`contact`: person's phone, country, city, state, postal_code."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = ["person_id", "email", "name", *contact]
        conn.execute(sql.SQL("insert into {} ({}) values ({})").format(
            sql.Identifier(SCHEMA, "person"), sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join([sql.Placeholder()] * len(columns))), (person_id, email, name, *contact.values()))
        conn.execute(f'insert into "{SCHEMA}".person_features (person_id, email, plan, pricing_views_7d) values (%s, %s, %s, %s)',
                     (person_id, email, "pro", 2))
        conn.execute(f'insert into "{SCHEMA}".contact_eligibility (person_id, email, is_contactable, suppression_reason) '
                     "values (%s, %s, %s, %s)", (person_id, email, contactable, reason))


def add_people(url: str, n: int, prefix: str = "p") -> list[str]:
    """n contactable persons in one round trip each table (the crash test needs 1,000)."""
    ids = [f"{prefix}{i:05d}" for i in range(n)]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(f'insert into "{SCHEMA}".person (person_id, email, name) values (%s, %s, %s)',
                            [(p, f"{p}@example.org", f"Name {p}") for p in ids])
            cur.executemany(f'insert into "{SCHEMA}".contact_eligibility (person_id, email, is_contactable) values (%s, %s, true)',
                            [(p, f"{p}@example.org") for p in ids])
    return ids


def add_event(url: str, event_id: str, person_id: str, event_type: str, occurred_at: str = "now()", properties: dict | None = None) -> None:
    """One row of `event` (occurred_at is SQL, e.g. "now() - interval '1 hour'")."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f'insert into "{SCHEMA}".event (event_id, person_id, event_type, occurred_at, properties) '
            f"values (%s, %s, %s, {occurred_at}, %s)",
            (event_id, person_id, event_type, json.dumps(properties or {})),
        )


def add_deal(url: str, deal_id: str, person_id: str, email: str, *, owner: str | None = None, objections: list[str] = (),
             stage: str = "contacted", updated_at: str = "now()") -> None:
    """One row of `deal` (updated_at is SQL)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f'insert into "{SCHEMA}".deal (deal_id, person_id, email, owner, objection_tags, current_stage, is_closed, updated_at) '
            f"values (%s, %s, %s, %s, %s, %s, %s, {updated_at})",
            (deal_id, person_id, email, owner, json.dumps(list(objections)), stage, stage in ("won", "lost")),
        )


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
