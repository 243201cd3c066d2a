"""`gdp person forget`, end to end: real deliveries, dbt, activation with Meta audiences, forget, nothing left."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from activation.runner import activate
from gdp.links import LinkToken, make_token, person_cookie_value
from ingest_app.landing import landing_hashes
from orchestration.cycle import run_cycle
from privacy.forget import ForgetError, forget, parse_identifier
from tests.conftest import TEST_SECRETS
from tests.dbt_helpers import ingest_client, private_database
from tests.fakes.meta_api import FakeMeta
from tools.simulate.deliveries import (
    cal_booking_payload,
    cal_delivery,
    calendly_delivery,
    calendly_invitee_payload,
    deal_event_request,
    posthog_delivery,
    posthog_identify_event,
    resend_delivery,
    stripe_delivery,
)

ADA, BOB = "Ada.Lovelace@Example.ORG", "bob@example.net"
ADA_NORM = ADA.lower()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _post(client, delivery):
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def _send_person(client, email: str, tag: str, *, lost: bool = True) -> dict:
    """Every kind of touch for one person, through the real endpoints."""
    secrets = TEST_SECRETS
    distinct = f"ph_{tag}_{uuid.uuid4().hex[:8]}"
    person_id = f"p_app_{tag}"
    now = datetime.now(timezone.utc)
    _post(client, resend_delivery({"type": "email.delivered", "created_at": now.isoformat(), "data": {
        "email_id": f"em_{tag}", "to": [f"{tag.title()} <{email}>"], "subject": "hi", "tags": {"person_id": person_id}}},
        secrets["resend_webhook_secret"]))
    _post(client, stripe_delivery({"id": f"evt_{tag}", "type": "customer.created", "created": int(now.timestamp()),
                                   "data": {"object": {"id": f"cus_{tag}", "object": "customer", "email": email}}},
                                  secrets["stripe_webhook_secret"]))
    _post(client, posthog_delivery(posthog_identify_event(person_id, distinct, email=email),
                                   secrets["posthog_webhook_secret"]))
    _post(client, cal_delivery(cal_booking_payload("BOOKING_CREATED", email, start=now + timedelta(days=2)),
                               secrets["cal_webhook_secret"]))
    _post(client, calendly_delivery(calendly_invitee_payload("invitee.created", email), secrets["calendly_webhook_signing_key"]))
    identify = client.post("/api/identify", json={"person_id": person_id, "email": email, "distinct_id": distinct},
                           headers={"Authorization": f"Bearer {secrets['api_token']}"})
    assert identify.status_code == 200
    token = make_token(secrets["tracking_link_secret"], LinkToken(person_id, "cmp_1", "outbound", "https://app.example.com/offer"))
    assert client.get(f"/c/{token}", headers={"User-Agent": "Mozilla/5.0"}).status_code == 302
    client.set_cookie("gdp_pid", person_cookie_value(secrets["tracking_link_secret"], person_id))
    capi = client.post("/api/meta/capi", json={"event_id": str(uuid.uuid4()), "event_name": "Lead",
                                               "event_source_url": "https://www.example.com/offer"})
    assert capi.status_code == 200
    client.delete_cookie("gdp_pid")
    if lost:
        _post(client, deal_event_request({"email": email, "stage": "lost", "event_id": f"deal_{tag}",
                                          "objection": "price"}, secrets["api_token"]))
    return {"person_id": person_id, "distinct_id": distinct}


def _count_naming(url: str, needles: list[str]) -> dict[str, int]:
    """Rows in raw, activation and analytics whose text contains any needle (case-insensitive)."""
    found = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname in ('raw', 'activation', 'analytics') and c.relkind in ('r', 'v')
                 and c.relname <> 'forgotten_identifier'"""
        ).fetchall()
        for schema, table in tables:
            for needle in needles:
                n = conn.execute(
                    sql.SQL("select count(*) from {} as r where strpos(lower(r::text), %s) > 0").format(
                        sql.Identifier(schema, table)), (needle.lower(),)
                ).fetchone()[0]
                if n:
                    found[f"{schema}.{table} ~ {needle}"] = n
    return found


def test_parse_identifier_and_landing_hashes():
    assert parse_identifier("  Ada <Ada@X.org> ") == ("email", "ada@x.org")
    assert parse_identifier("p_123") == ("person_id", "p_123")
    with pytest.raises(ForgetError):
        parse_identifier("nobody@")
    hashes = landing_hashes({"payload": {"to": ["Ada <ADA@x.org>"], "tags": [{"name": "person_id", "value": " p_1 "}]}})
    assert sha("ada@x.org") in hashes and sha("p_1") in hashes


@pytest.fixture
def world(server_url, settings, tmp_path):
    fake = FakeMeta().start()
    with private_database(server_url) as url:
        act_settings = replace(
            settings, data_dir=tmp_path, meta_access_token=fake.access_token, meta_graph_base=fake.url,
            meta_graph_version=fake.version, meta_pixel_id=fake.pixel_id, provider_backoff_s=0.01,
            meta_audience_ids="lost_retarget=7001,no_show_retarget=7002", email_cap_per_day=5, email_cap_per_week=10,
        )
        with ingest_client(settings, url) as client:
            yield url, client, act_settings, fake
    fake.stop()


@pytest.mark.slow
def test_forget_removes_the_person_everywhere_and_drops_later_deliveries(world, tmp_path, capsys):
    url, client, act_settings, fake = world
    ada = _send_person(client, ADA, "ada")
    bob = _send_person(client, BOB, "bob")

    cycle = run_cycle(url, target_path=tmp_path / "target", settings=act_settings)
    assert cycle.ok, cycle.summary()
    activate(url, settings=act_settings, channels=["meta_audiences"])  # no Resend key: emails are not this test's
    with psycopg.connect(url) as conn:
        members = conn.execute("select audience, person_id from activation.audience_member order by 1, 2").fetchall()
        ada_pid = conn.execute("select person_id from analytics.identity_link where identity_key = %s",
                               (f"email:{ADA_NORM}",)).fetchone()[0]
    assert ("lost_retarget", ada_pid) in members, members
    assert fake.audiences["7001"], "activation added the persons to the Meta audience"
    before = _count_naming(url, [ADA_NORM, ada["distinct_id"], ada_pid])
    assert any(k.startswith("raw.") for k in before) and any(k.startswith("activation.") for k in before)
    assert any(k.startswith("analytics.") for k in before)

    report = forget(url, f"  {ADA} ", settings=act_settings)
    print("\n" + report.summary())

    # Meta: the exact rows activation added are deleted, Bob's stay.
    delete = [r for r in fake.requests if r["method"] == "DELETE"]
    assert len(delete) == 1 and delete[0]["path"].endswith("/7001/users")
    removed = json.loads(delete[0]["params"]["payload"])["data"]
    assert removed and all(row[0] == sha(ADA_NORM) for row in removed)
    assert all(row[0] != sha(ADA_NORM) for row in fake.audiences["7001"]) and fake.audiences["7001"]
    # Stored rows: none name Ada any more; Bob untouched.
    assert _count_naming(url, [ADA_NORM, ada["distinct_id"], ada_pid, ada["person_id"], sha(ADA_NORM)]) == {}
    assert report.deleted["raw.resend_event"] == 1 and report.deleted["raw.stripe_event"] == 1
    assert report.deleted["raw.click"] == 1 and report.deleted["raw.meta_capi_event"] == 1
    assert report.deleted["activation.audience_member"] == 1 and report.deleted["activation.outbox"] >= 1
    assert report.deleted["analytics.int_persons__profile"] == 1 and report.deleted["analytics.identity_link"] >= 3
    assert report.tombstones >= 4 and report.identifiers["email"] == 1
    with psycopg.connect(url) as conn:
        tombstones = [r[0] for r in conn.execute("select identifier_hash from raw.forgotten_identifier")]
        bob_rows = conn.execute("select count(*) from raw.resend_event").fetchone()[0]
    assert sha(ADA_NORM) in tombstones and ADA_NORM not in json.dumps(tombstones)
    assert bob_rows == 1
    assert _count_naming(url, [BOB, bob["distinct_id"]]), "the other person is kept"
    assert not any(ADA_NORM in p.read_text().lower() for p in (tmp_path / "outbox-preview").glob("*") if p.is_file())

    # Later deliveries about Ada are acknowledged and dropped; the next dbt build does not bring her back.
    again = _send_person(client, ADA.upper(), "ada")
    assert again  # every answer above was 200
    assert _count_naming(url, [ADA_NORM, ada["distinct_id"], ada["person_id"]]) == {}
    cycle = run_cycle(url, target_path=tmp_path / "target", settings=act_settings)
    assert cycle.ok, cycle.summary()
    assert _count_naming(url, [ADA_NORM, ada["distinct_id"], ada["person_id"]]) == {}

    # The CLI prints what it removed (a second run finds nothing left but keeps the tombstones).
    from gdp.cli import main
    from gdp.settings import get_settings

    get_settings.cache_clear()
    try:
        cli = CliRunner().invoke(main, ["person", "forget", "--yes", ADA_NORM], env={"DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    assert cli.exit_code == 0, cli.output
    assert "no stored rows named this person" in cli.output and "tombstones recorded" in cli.output
