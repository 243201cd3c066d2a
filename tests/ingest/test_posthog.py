"""PostHog: the webhook destination and the query-API backfill (`gdp posthog pull`)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from gdp.settings import MissingSetting, Settings, get_settings
from ingest_app.backfill.posthog import HogQLClient, PostHogQueryError, pull
from tests.conftest import TEST_SECRETS
from tests.fakes.posthog_api import FakePostHog
from tools.simulate.deliveries import encode, posthog_delivery, posthog_event, posthog_identify_event

SECRET = TEST_SECRETS["posthog_webhook_secret"]
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def post(client, delivery, headers=None):
    return client.post(delivery.path, data=delivery.body, headers=headers if headers is not None else delivery.headers)


def count(conn):
    return conn.execute("select count(*) from raw.posthog_event").fetchone()[0]


def pageview(distinct_id="anon-1", **kwargs):
    return posthog_event("$pageview", distinct_id, {"$current_url": "https://site.test/pricing"}, **kwargs)


# --- webhook ------------------------------------------------------------------


def test_default_template_lands_once_with_person_and_no_secret(client, clean_raw):
    event = pageview(timestamp=T0)
    delivery = posthog_delivery(event, SECRET, person={"id": "p-uuid", "properties": {"email": "ada@example.org"}})
    first = post(client, delivery)
    assert first.status_code == 200
    assert first.json["new"] == 1 and first.json["duplicate"] is False
    again = post(client, delivery)
    assert again.status_code == 200 and again.json["duplicate"] is True
    rows = clean_raw.execute(
        "select uuid, event_name, distinct_id, occurred_at, via, headers, payload from raw.posthog_event"
    ).fetchall()
    assert len(rows) == 1
    key, name, distinct_id, occurred_at, via, headers, payload = rows[0]
    assert (key, name, distinct_id, occurred_at, via) == (event["uuid"], "$pageview", "anon-1", T0, "webhook")
    assert payload["properties"]["$current_url"] == "https://site.test/pricing"
    assert payload["person"]["properties"]["email"] == "ada@example.org"
    assert "authorization" not in {k.lower() for k in headers}
    assert SECRET not in json.dumps(headers)


@pytest.mark.parametrize("shape", ["default", "bare", "batch"])
@pytest.mark.parametrize("as_list", [True, False], ids=["list", "single"])
def test_every_body_shape_is_accepted(client, clean_raw, shape, as_list):
    events = [pageview(f"anon-{i}") for i in range(3)] if as_list else pageview()
    response = post(client, posthog_delivery(events, SECRET, shape=shape))
    assert response.status_code == 200, response.json
    expected = 3 if as_list else 1
    assert response.json["new"] == expected
    assert count(clean_raw) == expected
    assert clean_raw.execute("select count(*) from raw.posthog_event where payload ? 'properties'").fetchone()[0] == expected


def test_identity_events_keep_their_edges_for_staging(client, clean_raw):
    identify = posthog_identify_event("person-42", "anon-abc", email="ada@example.org")
    alias = posthog_event("$create_alias", "person-42", {"alias": "app-user-7"})
    assert post(client, posthog_delivery([identify, alias], SECRET, shape="batch")).status_code == 200
    edges = clean_raw.execute(
        """
        select event_name, distinct_id,
               coalesce(payload -> 'properties' ->> '$anon_distinct_id', payload -> 'properties' ->> 'alias')
        from raw.posthog_event order by event_name
        """
    ).fetchall()
    assert edges == [("$create_alias", "person-42", "app-user-7"), ("$identify", "person-42", "anon-abc")]


def test_a_batch_with_known_and_new_events_adds_only_the_new(client, clean_raw):
    first, second = pageview("a"), pageview("b")
    post(client, posthog_delivery(first, SECRET, shape="bare"))
    response = post(client, posthog_delivery([first, second], SECRET, shape="bare"))
    assert response.json["new"] == 1 and response.json["received"] == 2
    assert count(clean_raw) == 2


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Bearer {SECRET}x", f"Bearer {SECRET[:-1]}", f"Basic {SECRET}", SECRET, "Bearer "],
    ids=["absent", "empty", "longer", "shorter", "basic-scheme", "no-scheme", "empty-token"],
)
def test_wrong_or_missing_secret_is_401_and_stores_nothing(client, clean_raw, authorization):
    delivery = posthog_delivery(pageview(), SECRET)
    headers = {k: v for k, v in delivery.headers.items() if k != "Authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = post(client, delivery, headers)
    assert response.status_code == 401
    assert response.json["error"] == "missing or wrong bearer token"
    assert count(clean_raw) == 0


def _raw(client, body: bytes):
    return client.post(
        "/webhooks/posthog", data=body, headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"event": "$pageview", ', "body is not valid JSON"),
        (encode([]), "no events in the body"),
        (encode({"batch": {"uuid": "x"}}), "'batch' must be a list of events"),
        (encode({"event": "$pageview", "distinct_id": "a"}), "event: missing field 'uuid'"),
        (encode({"uuid": "u1", "distinct_id": "a"}), "event: missing field 'event'"),
        (encode({"uuid": "u1", "event": "x", "properties": [1]}), "event: properties must be an object"),
        (encode({"uuid": "u1", "event": "x", "timestamp": "yesterday"}), "event: timestamp 'yesterday' is not ISO 8601"),
        (encode(["not an event"]), "event: must be a JSON object"),
    ],
    ids=["invalid-json", "empty-list", "batch-not-list", "no-uuid", "no-event", "bad-properties", "bad-timestamp", "scalar"],
)
def test_malformed_bodies_are_400_with_a_reason(client, clean_raw, body, reason):
    response = _raw(client, body)
    assert response.status_code == 400
    assert response.json["error"] == reason
    assert count(clean_raw) == 0


def test_one_bad_event_refuses_the_whole_batch(client, clean_raw):
    good = pageview()
    bad = {k: v for k, v in pageview().items() if k != "uuid"}
    response = post(client, posthog_delivery([good, bad], SECRET, shape="batch"))
    assert response.status_code == 400 and response.json["error"] == "event 1: missing field 'uuid'"
    assert count(clean_raw) == 0


def test_missing_secret_refuses_to_start_naming_the_variable(database_url):
    from ingest_app import create_app

    secrets = {k: v for k, v in TEST_SECRETS.items() if k != "posthog_webhook_secret"}
    with pytest.raises(MissingSetting, match="POSTHOG_WEBHOOK_SECRET"):
        create_app(Settings(**secrets), {"DATABASE_URL": database_url})


# --- query API backfill against the local fake -----------------------------------


@pytest.fixture
def fake():
    with FakePostHog() as server:
        yield server


def seed(fake, n, start=T0, same_timestamp_every=1):
    """n events; `same_timestamp_every` > 1 gives runs of equal timestamps across page edges."""
    ids = []
    for i in range(n):
        # Scrambled so uuid order differs from insertion order; unique across calls.
        event_id = str(uuid.UUID(int=((len(fake.events) + 1) * 7919) % (2**64)))
        ts = start + timedelta(seconds=i // same_timestamp_every, microseconds=123456)
        fake.add_event(event_id, "$pageview", f"anon-{i}", ts, {"n": i, "$current_url": "https://site.test/"})
        ids.append(event_id)
    return ids


def make_client(fake, sleeps=None, **kwargs):
    if sleeps is not None:
        kwargs["sleep"] = sleeps.append
    return HogQLClient(fake.url, fake.api_key, fake.project_id, **kwargs)


def test_pull_pages_through_equal_timestamps_exactly_once(fake, clean_raw):
    ids = seed(fake, 23, same_timestamp_every=4)
    pages = []
    result = pull(clean_raw, make_client(fake), page_size=5, on_page=lambda *args: pages.append(args))
    assert (result.pages, result.fetched, result.new) == (5, 23, 23)
    stored = clean_raw.execute(
        "select uuid, via, payload -> 'properties' ->> 'n', occurred_at from raw.posthog_event order by 1"
    ).fetchall()
    assert sorted(r[0] for r in stored) == sorted(ids)
    assert {r[1] for r in stored} == {"query_api"}
    assert sorted(int(r[2]) for r in stored) == list(range(23))
    assert all(r[3].microsecond == 123456 for r in stored)
    assert [p[1] for p in pages] == [5, 5, 5, 5, 3]
    assert all(r["headers"]["authorization"] == f"Bearer {fake.api_key}" for r in fake.requests)
    body = json.loads(fake.requests[0]["body"])
    assert body["query"]["kind"] == "HogQLQuery" and "limit 5" in body["query"]["query"]


def test_rerun_resumes_from_the_cursor_and_adds_nothing_twice(fake, clean_raw):
    seed(fake, 6)
    pull(clean_raw, make_client(fake), page_size=4)
    requests_before = len(fake.requests)
    again = pull(clean_raw, make_client(fake), page_size=4)
    assert (again.fetched, again.new) == (0, 0)
    assert len(fake.requests) == requests_before + 1, "a re-run asks once from the cursor"
    seed(fake, 2, start=T0 + timedelta(hours=1))
    later = pull(clean_raw, make_client(fake), page_size=4)
    assert (later.fetched, later.new) == (2, 2)
    assert count(clean_raw) == 8
    cursor = clean_raw.execute("select last_timestamp from raw.posthog_pull_cursor").fetchone()[0]
    assert cursor == T0 + timedelta(hours=1, seconds=1, microseconds=123456)


def test_since_rereads_old_ground_without_duplicates_or_moving_the_cursor_back(fake, clean_raw):
    seed(fake, 5)
    pull(clean_raw, make_client(fake))
    cursor = clean_raw.execute("select last_timestamp, last_uuid from raw.posthog_pull_cursor").fetchone()
    again = pull(clean_raw, make_client(fake), since=T0 + timedelta(seconds=3))
    assert (again.fetched, again.new) == (2, 0)
    assert clean_raw.execute("select last_timestamp, last_uuid from raw.posthog_pull_cursor").fetchone() == cursor
    assert count(clean_raw) == 5


def test_an_event_already_landed_by_webhook_is_kept_as_is(fake, client, clean_raw):
    event = pageview(timestamp=T0)
    post(client, posthog_delivery(event, SECRET))
    fake.add_event(event["uuid"], "$pageview", "anon-1", T0, {"$current_url": "https://site.test/pricing"})
    result = pull(clean_raw, make_client(fake))
    assert (result.fetched, result.new) == (1, 0)
    assert clean_raw.execute("select via from raw.posthog_event").fetchall() == [("webhook",)]


def test_429_honours_retry_after_and_caps_the_wait(fake, clean_raw):
    seed(fake, 3)
    fake.cue(429, headers={"Retry-After": "7"})
    fake.cue(429, headers={"Retry-After": "3600"})
    sleeps = []
    result = pull(clean_raw, make_client(fake, sleeps, max_wait_s=30))
    assert sleeps == [7, 30]
    assert result.new == 3


def test_5xx_and_dropped_answers_are_retried_with_backoff(fake, clean_raw):
    seed(fake, 3)
    fake.cue(502)
    fake.cue(503)
    sleeps = []
    assert pull(clean_raw, make_client(fake, sleeps, backoff_s=0.5)).new == 3
    assert sleeps == [0.5, 1.0]


def test_retries_are_bounded_and_landed_pages_survive(fake, clean_raw):
    seed(fake, 6)

    def fail_after_first_page(page, *_):
        if page == 1:
            fake.cue(500, times=10)

    sleeps = []
    with pytest.raises(PostHogQueryError, match="server error 500; gave up after 3 retries"):
        pull(clean_raw, make_client(fake, sleeps, max_retries=3), page_size=3, on_page=fail_after_first_page)
    assert len(sleeps) == 3
    assert count(clean_raw) == 3
    fake.cues.clear()
    assert pull(clean_raw, make_client(fake), page_size=3).new == 3
    assert count(clean_raw) == 6


@pytest.mark.parametrize(
    "status, body, message",
    [
        (200, b"<html>gateway</html>", "malformed answer from PostHog: body is not JSON"),
        (200, {"results": "nope", "columns": []}, "'results' and 'columns' must be lists"),
        (200, {"results": [[1]], "columns": ["uuid"]}, "columns ['event', 'distinct_id', 'properties', 'timestamp'] missing"),
        (400, {"type": "validation_error", "detail": "Syntax error"}, "PostHog rejected the query (400: Syntax error)"),
    ],
    ids=["not-json", "results-not-list", "missing-columns", "query-error"],
)
def test_malformed_or_refused_answers_stop_with_a_clear_error(fake, clean_raw, status, body, message):
    seed(fake, 2)
    fake.cue(status, body=body)
    with pytest.raises(PostHogQueryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        pull(clean_raw, make_client(fake))
    assert count(clean_raw) == 0


def test_a_wrong_api_key_says_which_setting(fake, clean_raw):
    client = HogQLClient(fake.url, "phx_wrong", fake.project_id)
    with pytest.raises(PostHogQueryError, match="PostHog refused POSTHOG_PERSONAL_API_KEY \\(401"):
        pull(clean_raw, client)


def test_server_side_row_cap_is_followed_with_has_more(clean_raw):
    with FakePostHog(max_rows=4) as capped:
        seed(capped, 10)
        result = pull(clean_raw, make_client(capped), page_size=100)
    assert (result.pages, result.new) == (3, 10)


# --- the command -------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, fake, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("POSTHOG_HOST", fake.url)
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", fake.api_key)
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.setenv("POSTHOG_PROJECT_ID", fake.project_id)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args):
    from gdp.cli import main

    return CliRunner().invoke(main, ["posthog", "pull", *args])


def test_cli_pull_prints_progress_and_waits_out_a_429(fake, cli_env, clean_raw):
    seed(fake, 5)
    fake.cue(429, headers={"Retry-After": "1"})
    result = run("--page-size", "2")
    assert result.exit_code == 0, result.output
    assert "rate limited (429); retrying in 1s (1/5)" in result.output
    assert "page 3: 1 events, 1 new" in result.output
    assert "5 events read in 3 pages, 5 new" in result.output
    assert count(clean_raw) == 5
    rerun = run()
    assert rerun.exit_code == 0 and "0 events read in 0 pages, 0 new" in rerun.output


def test_cli_since_and_project_id(fake, cli_env, clean_raw):
    seed(fake, 5)
    assert run("--since", "2026-11-20T10:00:03Z").exit_code == 0
    assert count(clean_raw) == 2
    other = run("--project-id", "999")
    assert other.exit_code == 1
    assert "PostHog denied access to project '999' (403" in other.output


def test_cli_errors_are_one_line(fake, cli_env, clean_raw, monkeypatch):
    assert "--since 'last week' is not an ISO 8601 timestamp" in run("--since", "last week").output
    fake.cue(200, body=b"not json")
    result = run()
    assert result.exit_code == 1
    assert "malformed answer from PostHog: body is not JSON" in result.output
    monkeypatch.delenv("POSTHOG_PERSONAL_API_KEY")
    get_settings.cache_clear()
    missing = run()
    assert missing.exit_code == 1 and "POSTHOG_PERSONAL_API_KEY is not set" in missing.output


def test_cli_takes_a_personal_key_from_the_old_variable_with_a_warning_and_refuses_a_project_key(fake, cli_env, clean_raw, monkeypatch):
    seed(fake, 2)
    monkeypatch.delenv("POSTHOG_PERSONAL_API_KEY")
    monkeypatch.setenv("POSTHOG_API_KEY", fake.api_key)
    get_settings.cache_clear()
    old = run()
    assert old.exit_code == 0 and "warning: POSTHOG_API_KEY as the personal key is deprecated" in old.output
    assert count(clean_raw) == 2
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_project_key")
    get_settings.cache_clear()
    asked = len(fake.requests)
    refused = run()
    assert refused.exit_code == 1 and "POSTHOG_API_KEY holds the project key (phc_...)" in refused.output
    assert len(fake.requests) == asked, "refused before asking PostHog"
