"""Provenance in the identity graph (issue 13, findings 1 and 2), through the real endpoints and a real build.

A victim known from verified sources (an emailed person, an auth user, the app's token identify)
and an attacker with a person cookie of their own. The attacker posts the victim's PostHog
distinct id and auth user id to the cookie-authenticated /api/identify (finding 1) and sends a
PostHog `$identify` with the victim's person id as distinct id and their own address in
`$set.email` (finding 2). Legitimate flows still merge: an anonymous browser that signs up,
and a cookie identify that attaches a browser to the cookie's own person.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from gdp.links import person_cookie_value
from tests.conftest import TEST_SECRETS
from tests.dbt_helpers import build, ingest_client, private_database, rows, send_resend
from tools.simulate.deliveries import encode, posthog_delivery, posthog_event, posthog_identify_event

pytestmark = pytest.mark.slow

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ORIGIN = "http://localhost"
LIGHT = ("--exclude-resource-type", "unit_test", "--exclude", "path:models/segments+")
VICTIM_UID = str(uuid.uuid4())
NEWCOMER_UID = str(uuid.uuid4())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def emailed(email_id, to, person_id, at, svix_id):
    return {
        "type": "email.sent",
        "created_at": iso(at),
        "data": {"email_id": email_id, "created_at": iso(at), "from": "Team <team@example.com>", "to": [to],
                 "subject": "Hello", "tags": [{"name": "person_id", "value": person_id},
                                              {"name": "campaign_id", "value": "welcome"},
                                              {"name": "funnel", "value": "newsletter"}]},
    }, svix_id


def identify(client, body, *, cookie_person=None):
    headers = {"Content-Type": "application/json"}
    if cookie_person:
        client.set_cookie("gdp_pid", person_cookie_value(TEST_SECRETS["tracking_link_secret"], cookie_person))
        headers["Origin"] = ORIGIN
    else:
        client.delete_cookie("gdp_pid")
        headers["Authorization"] = f"Bearer {TEST_SECRETS['api_token']}"
    answer = client.post("/api/identify", data=encode(body), headers=headers)
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)


def posthog(client, events):
    delivery = posthog_delivery(events, TEST_SECRETS["posthog_webhook_secret"], shape="batch")
    answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code in (200, 202), answer.get_data(as_text=True)


def land_world(client, url):
    # The victim: emailed (verified), signs up (auth.users), the app's backend reports the browser
    # with the API token, and gdp.js identified the browser with the person id (PostHog).
    send_resend(client, *emailed("em_v1", "victim@example.org", "p_victim", NOW - timedelta(days=9), "msg_v1"))
    posthog(client, [
        posthog_event("$pageview", "anon-victim", {"$current_url": "https://example.com/"}, timestamp=NOW - timedelta(days=8)),
        posthog_identify_event("p_victim", "anon-victim", timestamp=NOW - timedelta(days=8)),
        posthog_event("$pageview", "p_victim", {"$current_url": "https://example.com/pricing"}, timestamp=NOW - timedelta(days=7)),
    ])
    identify(client, {"person_id": "p_victim", "email": "victim@example.org", "distinct_id": "anon-victim",
                      "app_user_id": VICTIM_UID})
    # The attacker: a newsletter reader of their own (so their cookie's person holds a verified email).
    send_resend(client, *emailed("em_a1", "attacker@example.net", "p_attacker", NOW - timedelta(days=6), "msg_a1"))
    # A reader who clicked through: the cookie identify attaches their browser (legitimate).
    send_resend(client, *emailed("em_r1", "reader@example.org", "p_reader", NOW - timedelta(days=6), "msg_r1"))
    posthog(client, [posthog_event("$pageview", "anon-reader", {"$current_url": "https://example.com/"},
                                   timestamp=NOW - timedelta(days=5))])
    identify(client, {"distinct_id": "anon-reader"}, cookie_person="p_reader")
    # A newcomer: anonymous browsing, then signs up; the backend reports it with the token.
    posthog(client, [posthog_event("$pageview", "anon-new", {"$current_url": "https://example.com/blog"},
                                   timestamp=NOW - timedelta(days=4), event_uuid="22222222-2222-4222-8222-222222222222")])
    identify(client, {"email": "new@example.org", "distinct_id": "anon-new", "app_user_id": NEWCOMER_UID})
    with psycopg.connect(url) as conn:
        for uid, email, days in [(VICTIM_UID, "victim@example.org", 8), (NEWCOMER_UID, "new@example.org", 3)]:
            conn.execute("insert into auth.users (id, email, created_at) values (%s, %s, %s)",
                         (uid, email, NOW - timedelta(days=days)))


def attack(client):
    # Finding 1: the attacker's own cookie, the victim's distinct id and auth user id.
    identify(client, {"distinct_id": "p_victim", "app_user_id": VICTIM_UID}, cookie_person="p_attacker")
    identify(client, {"distinct_id": "anon-victim"}, cookie_person="p_attacker")
    # Anonymous ids another person claimed first: the reader's browser directly, and through an
    # alias of the attacker's own browser to it.
    identify(client, {"distinct_id": "anon-reader"}, cookie_person="p_attacker")
    identify(client, {"distinct_id": "anon-attacker"}, cookie_person="p_attacker")
    posthog(client, [posthog_event("$create_alias", "anon-attacker", {"alias": "anon-reader"},
                                   timestamp=NOW - timedelta(hours=3))])
    # Finding 2: PostHog's public key, distinct_id = the victim's person id, $set.email = the attacker's
    # address, stamped later than anything else (the client sets PostHog timestamps).
    posthog(client, [posthog_identify_event("p_victim", "anon-attacker", email="attacker@example.net",
                                            timestamp=datetime.now(timezone.utc) + timedelta(minutes=5))])


def person_of(url, key):
    found = rows(url, "select person_id from analytics.identity_link where identity_key = %s", (key,))
    assert found, f"{key} not in identity_link"
    return found[0]["person_id"]


def gdp_cli(url, monkeypatch, *args):
    """Output of one `gdp` command against this world's database (it must succeed)."""
    from click.testing import CliRunner

    from gdp.cli import main
    from gdp.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def explain_output(url, monkeypatch, who):
    return gdp_cli(url, monkeypatch, "person", "explain", who)


@pytest.fixture(scope="module")
def world(server_url, settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("provenance")
    with private_database(server_url) as url, ingest_client(settings, url) as client:
        land_world(client, url)
        build(url, tmp / "dbt")
        before = {"victim": rows(url, "select * from analytics.person where person_id = %s", ("p_victim",))}
        attack(client)
        build(url, tmp / "dbt", *LIGHT)
        yield {"url": url, "tmp": tmp, "before": before}


def test_cookie_identify_with_the_victims_ids_does_not_merge_attacker_and_victim(world):
    url = world["url"]
    victim = person_of(url, "person_id:p_victim")
    attacker = person_of(url, "person_id:p_attacker")
    assert victim != attacker
    assert person_of(url, f"app_user_id:{VICTIM_UID}") == victim
    assert person_of(url, "posthog_distinct_id:p_victim") == victim
    assert person_of(url, "posthog_distinct_id:anon-victim") == victim
    assert person_of(url, "email:attacker@example.net") == attacker


def test_victims_contact_email_stays_theirs(world):
    url = world["url"]
    victim = person_of(url, "person_id:p_victim")
    person = rows(url, "select email from analytics.person where person_id = %s", (victim,))
    assert person == [{"email": "victim@example.org"}]
    assert world["before"]["victim"][0]["email"] == "victim@example.org"


def test_posthog_set_email_on_the_victims_id_is_refused(world):
    url = world["url"]
    victim = person_of(url, "person_id:p_victim")
    emails = rows(url, "select identifier_value from analytics.identity_link where person_id = %s"
                       " and identifier_type = 'email'", (victim,))
    assert emails == [{"identifier_value": "victim@example.org"}]


def test_refused_edges_are_kept_with_their_reason(world):
    refused = rows(world["url"], "select left_key, right_key, raw_table, reason from analytics.int_identity__refused_edges")
    by_pair = {(r["left_key"], r["right_key"]): r for r in refused}
    assert by_pair[("person_id:p_attacker", f"app_user_id:{VICTIM_UID}")]["raw_table"] == "identify_call"
    assert "two identified persons" in by_pair[("person_id:p_attacker", f"app_user_id:{VICTIM_UID}")]["reason"]
    assert "already" in by_pair[("person_id:p_attacker", "posthog_distinct_id:p_victim")]["reason"]
    assert ("posthog_distinct_id:p_victim", "email:attacker@example.net") in by_pair


def test_anonymous_ids_go_to_the_first_claimant_only(world):
    url = world["url"]
    reader, attacker = person_of(url, "person_id:p_reader"), person_of(url, "person_id:p_attacker")
    assert reader != attacker
    assert person_of(url, "posthog_distinct_id:anon-reader") == reader
    assert person_of(url, "posthog_distinct_id:anon-attacker") == attacker  # their own browser stays theirs
    refused = {(r["left_key"], r["right_key"]): r["reason"]
               for r in rows(url, "select left_key, right_key, reason from analytics.int_identity__refused_edges")}
    assert "claimed first at" in refused[("person_id:p_attacker", "posthog_distinct_id:anon-reader")]
    assert "two identified persons claimed" in refused[("posthog_distinct_id:anon-attacker", "posthog_distinct_id:anon-reader")]


def test_explain_on_the_attacker_shows_the_refused_edges(world, monkeypatch):
    out = explain_output(world["url"], monkeypatch, "attacker@example.net")
    print(f"$ gdp person explain attacker@example.net\n{out}")
    assert "email attacker@example.net" in out
    assert "refused" in out
    assert f"person_id:p_attacker <-> app_user_id:{VICTIM_UID}" in out
    assert "two identified persons" in out
    assert "client_asserted" in out and "verified" in out
    victim = explain_output(world["url"], monkeypatch, "victim@example.org")
    print(f"$ gdp person explain victim@example.org\n{victim}")
    assert "email victim@example.org" in victim and "attacker@example.net" not in victim.split("refused")[0]


def test_explain_on_the_attacker_lists_every_attack_as_refused_and_none_of_the_victims_ids(world, monkeypatch):
    """Acceptance of issue 13: each edge findings 1-2 tried is listed under 'refused' with its reason,
    the attacker's own identifiers hold nothing of the victim's, and the victim's email is unchanged."""
    out = explain_output(world["url"], monkeypatch, "attacker@example.net")
    identifiers, refused = out.split("joined by")[0], out.split("refused (")[1].split("events:")[0]
    for attack_edge in (f"person_id:p_attacker <-> app_user_id:{VICTIM_UID}",   # finding 1, auth user id
                        "person_id:p_attacker <-> posthog_distinct_id:p_victim",  # finding 1, distinct id
                        "posthog_distinct_id:p_victim <-> email:attacker@example.net"):  # finding 2, $set.email
        line = next((line for line in refused.splitlines() if attack_edge in line), None)
        assert line is not None, f"{attack_edge} not refused in:\n{out}"
        assert "[client_asserted]" in line and "reason: " in line
    for victims in ("p_victim", VICTIM_UID, "anon-victim", "victim@example.org"):
        assert victims not in identifiers
    victim = explain_output(world["url"], monkeypatch, "victim@example.org")
    assert "  email victim@example.org  " in victim
    assert "email:attacker@example.net" not in victim.split("joined by")[0]


def test_meta_em_of_the_victim_is_still_the_victims_address(world):
    """Finding 1's consequence: Meta `em` follows the contact email, so it must stay the victim's."""
    url = world["url"]
    # LIGHT leaves out models/segments+ (contact_eligibility is there): build Meta's user view on this graph.
    build(url, world["tmp"] / "dbt", "--exclude-resource-type", "unit_test",
          "--select", "contact_eligibility", "activation_recipient", "activation_meta_user")
    victim = person_of(url, "person_id:p_victim")
    assert rows(url, "select em from analytics.activation_meta_user where person_id = %s", (victim,)) == [
        {"em": "victim@example.org"}]


def test_legitimate_flows_still_merge(world):
    url = world["url"]
    newcomer = person_of(url, "email:new@example.org")
    assert person_of(url, "posthog_distinct_id:anon-new") == newcomer
    assert person_of(url, f"app_user_id:{NEWCOMER_UID}") == newcomer
    event = rows(url, "select person_id from analytics.event where raw_key = %s", ("22222222-2222-4222-8222-222222222222",))
    assert event == [{"person_id": newcomer}]
    assert rows(url, "select email from analytics.person where person_id = %s", (newcomer,)) == [{"email": "new@example.org"}]
    # a cookie identify attaches the browser to the cookie's own person
    assert person_of(url, "posthog_distinct_id:anon-reader") == person_of(url, "person_id:p_reader")


def test_derived_person_ids_cannot_be_computed_from_an_identifier(world):
    """Finding 2's lever: a person named 'p_' + md5 of their email (or any identifier) can be targeted from it."""
    newcomer = person_of(world["url"], "email:new@example.org")
    assert newcomer.startswith("p_")
    computable = rows(world["url"], "select identity_key, person_id from analytics.identity_link"
                                    " where person_id = 'p_' || left(md5(identity_key), 20)")
    assert computable == []
    assert newcomer != "p_" + hashlib.md5(b"posthog_distinct_id:anon-new").hexdigest()[:20]


def test_a_full_rebuild_decides_the_same(world):
    url = world["url"]
    query_links = "select identity_key, person_id from analytics.identity_link order by 1"
    query_refused = "select left_key, right_key, reason from analytics.int_identity__refused_edges order by 1, 2"
    links, refused = rows(url, query_links), rows(url, query_refused)
    build(url, world["tmp"] / "dbt", "--full-refresh", *LIGHT)
    assert rows(url, query_links) == links
    assert rows(url, query_refused) == refused


def test_a_client_stamp_from_the_future_does_not_move_the_victims_last_seen(world):
    """PostHog's timestamp is the sender's claim: the attacker's event dated five minutes ahead
    counts as seen when it arrived, not later than anything we received."""
    url = world["url"]
    victim = person_of(url, "person_id:p_victim")
    [latest] = rows(url, "select max(received_at) as received_at from raw.posthog_event")
    [person] = rows(url, "select last_seen_at, last_active_at from analytics.person_features where person_id = %s", (victim,))
    assert person["last_seen_at"] <= latest["received_at"] and person["last_active_at"] <= latest["received_at"]
    [events] = rows(url, "select count(*) as n from analytics.event where source = 'posthog' and occurred_at > received_at")
    assert events["n"] == 0


def test_forgetting_the_attacker_leaves_the_victim_whole(world, monkeypatch):
    """Finding 1's last step: `gdp person forget <attacker's address>` deleted the victim's rows once the
    two were merged. Runs last: it forgets the attacker in this module's world."""
    url = world["url"]
    victims_raw = "select count(*) as n from raw.{} where payload::text like '%%victim@example.org%%'"
    before = {t: rows(url, victims_raw.format(t))[0]["n"] for t in ("resend_event", "identify_call")}
    assert all(before.values()), before
    gdp_cli(url, monkeypatch, "person", "forget", "--yes", "attacker@example.net")
    assert {t: rows(url, victims_raw.format(t))[0]["n"] for t in before} == before
    build(url, world["tmp"] / "dbt", *LIGHT)
    victim = person_of(url, "person_id:p_victim")
    assert person_of(url, f"app_user_id:{VICTIM_UID}") == victim
    assert person_of(url, "posthog_distinct_id:anon-victim") == victim
    assert rows(url, "select email from analytics.person where person_id = %s", (victim,)) == [
        {"email": "victim@example.org"}]
    assert not rows(url, "select 1 from analytics.identity_link where identity_key = 'email:attacker@example.net'")
