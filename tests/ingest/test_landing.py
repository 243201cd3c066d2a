"""Every way into `raw` goes through ingest_app/landing.py: after a forget, none of them stores the person."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from gdp.settings import get_settings
from ingest_app.backfill.posthog import HogQLClient, pull
from ingest_app.landing import identifier_hash, land, landing_hashes
from privacy.forget import forget
from tests.conftest import TEST_SECRETS
from tests.fakes.posthog_api import FakePostHog
from tools.simulate.deliveries import deal_event_request, posthog_delivery, posthog_event, resend_delivery

ADA = "ada.forgotten@example.org"
BOB = "bob.kept@example.org"


def count(conn, table: str, needle: str) -> int:
    return conn.execute(f"select count(*) from raw.{table} as r where strpos(lower(r::text), %s) > 0", (needle,)).fetchone()[0]


@pytest.fixture
def forgotten(database_url, settings, clean_raw):
    """Ada is forgotten (a tombstone, nothing else stored); Bob is not."""
    report = forget(database_url, ADA, settings=settings)
    assert report.tombstones == 1
    return clean_raw


@pytest.fixture
def cli(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    from gdp.cli import main

    yield lambda *args: CliRunner().invoke(main, list(args))
    get_settings.cache_clear()


def test_a_webhook_about_a_forgotten_person_is_acknowledged_and_not_stored(forgotten, client):
    now = datetime.now(timezone.utc).isoformat()
    for email, svix_id in ((ADA, "msg_ada"), (BOB, "msg_bob")):
        payload = {"type": "email.delivered", "created_at": now, "data": {"email_id": f"em_{svix_id}", "to": [f"X <{email}>"]}}
        delivery = resend_delivery(payload, TEST_SECRETS["resend_webhook_secret"], svix_id=svix_id)
        assert client.post(delivery.path, data=delivery.body, headers=delivery.headers).status_code == 200
    assert count(forgotten, "resend_event", ADA) == 0
    assert count(forgotten, "resend_event", BOB) == 1


def test_a_browser_identify_about_a_forgotten_person_is_not_stored(forgotten, client):
    headers = {"Authorization": f"Bearer {TEST_SECRETS['api_token']}"}
    for email in (ADA.upper(), BOB):
        answer = client.post("/api/identify", json={"email": email, "distinct_id": f"ph_{uuid.uuid4().hex[:6]}"}, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert count(forgotten, "identify_call", ADA) == 0
    assert count(forgotten, "identify_call", BOB) == 1


def test_a_posthog_webhook_batch_keeps_only_the_events_of_persons_not_forgotten(forgotten, client):
    events = [posthog_event("$pageview", f"ph_{n}", properties={"$set": {"email": email}}) for n, email in ((1, ADA), (2, BOB))]
    delivery = posthog_delivery(events, TEST_SECRETS["posthog_webhook_secret"])
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200 and answer.json["received"] == 2 and answer.json["new"] == 1
    assert count(forgotten, "posthog_event", ADA) == 0
    assert count(forgotten, "posthog_event", BOB) == 1


def test_the_posthog_backfill_drops_a_forgotten_person_and_still_moves_its_cursor(forgotten):
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with FakePostHog() as fake:
        for n, email in enumerate((ADA, BOB, ADA)):
            fake.add_event(str(uuid.uuid4()), "$identify", f"anon-{n}", start + timedelta(minutes=n), {"email": email})
        result = pull(forgotten, HogQLClient(fake.url, fake.api_key, fake.project_id), page_size=2)
    assert (result.fetched, result.new) == (3, 1)
    assert result.cursor.timestamp == start + timedelta(minutes=2)
    assert count(forgotten, "posthog_event", ADA) == 0
    assert count(forgotten, "posthog_event", BOB) == 1


def test_deal_move_about_a_forgotten_person_says_so_and_stores_nothing(forgotten, cli, client):
    result = cli("deal", "move", ADA.title(), "won", "--event-id", "crm-ada")
    assert result.exit_code == 0, result.output
    assert "not stored (names a forgotten person)" in result.output
    request = deal_event_request({"email": ADA, "stage": "lost", "event_id": "crm-ada-api"}, TEST_SECRETS["api_token"])
    assert client.post(request.path, data=request.body, headers=request.headers).status_code == 200
    assert cli("deal", "move", BOB, "won").exit_code == 0
    assert count(forgotten, "deal_event", ADA) == 0
    assert count(forgotten, "deal_event", BOB) == 1


def test_lead_import_skips_a_forgotten_person_and_reports_it(forgotten, cli, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(f"email,name,company,owner,source\n{ADA.upper()},Ada,Engines,sam,list\n{BOB},Bob,Kept,sam,list\n")
    result = cli("leads", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 inserted, 0 updated, 0 unchanged, 0 invalid, 1 forgotten (not stored)" in result.output
    assert count(forgotten, "lead", ADA) == 0
    assert count(forgotten, "lead", BOB) == 1


def test_a_batch_lands_all_or_nothing(forgotten):
    rows = [{"email": BOB, "name": "Bob", "payload": {}}, {"email": "carol@example.org", "name": "x\u0000", "payload": {}}]
    with pytest.raises(Exception, match="0x00|null"):
        with forgotten.transaction():
            land(forgotten, "lead", "email", rows)
    assert count(forgotten, "lead", BOB) == 0


def test_an_address_percent_encoded_in_a_url_names_the_person():
    hashes = set(landing_hashes({"url": "https://app.example.com/offer?email=Ada.Forgotten%40Example.org&x=1"}))
    assert identifier_hash(ADA) in hashes
    twice = landing_hashes({"properties": {"$current_url": "https://x.example/?next=%2Fa%3Femail%3Dada.forgotten%2540example.org"}})
    assert identifier_hash(ADA) in twice
    plus = landing_hashes({"u": "https://x.example/?email=ada%2Btag%40example.org&name=Ada+Lovelace"})
    assert identifier_hash("ada+tag@example.org") in plus
    assert identifier_hash("ada.forgotten@example.org") in landing_hashes({"u": "?q=hi+ada.forgotten%40example.org+bye"})


def test_a_posthog_event_whose_url_carries_a_forgotten_address_is_not_stored(forgotten, client):
    events = [
        posthog_event("$pageview", "ph_anon_1", {"$current_url": "https://www.example.com/welcome?email=ada.forgotten%40example.org"}),
        posthog_event("$pageview", "ph_anon_2", {"$current_url": "https://www.example.com/welcome?email=bob.kept%40example.org"}),
    ]
    delivery = posthog_delivery(events, TEST_SECRETS["posthog_webhook_secret"])
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200 and answer.json["new"] == 1
    assert count(forgotten, "posthog_event", "ada.forgotten%40example.org") == 0
    assert count(forgotten, "posthog_event", "bob.kept%40example.org") == 1
