"""`POST /api/meta/capi`, `POST /api/identify` and `GET /gdp.js`."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gdp.links import person_cookie_value
from tests.conftest import TEST_SECRETS

SECRET = TEST_SECRETS["tracking_link_secret"]
API_TOKEN = TEST_SECRETS["api_token"]
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
OWN_ORIGIN = "http://localhost"


def capi_event(**overrides):
    event = {
        "event_id": str(uuid.uuid4()),
        "event_name": "Purchase",
        "event_source_url": "https://www.example.com/checkout/done?order=42",
        "custom_data": {"value": 49.0, "currency": "EUR"},
        "fbp": "fb.1.1732000000000.1234567890",
        "fbc": "fb.1.1732000000123.IwAR0AbC_dEf",
    }
    event.update(overrides)
    return event


def post_json(client, path, payload, headers=None):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(path, data=body, content_type="application/json", headers={"User-Agent": UA, **(headers or {})})


def count(conn, table):
    return conn.execute(f"select count(*) from raw.{table}").fetchone()[0]


def make_app(settings, database_url, **overrides):
    from ingest_app import create_app

    return create_app(dataclasses.replace(settings, **overrides), {"TESTING": True, "DATABASE_URL": database_url})


# --- /api/meta/capi ------------------------------------------------------------


def test_capi_event_lands_with_ip_ua_and_the_cookie_person(client, clean_raw):
    client.set_cookie("gdp_pid", person_cookie_value(SECRET, "p_42"))
    event = capi_event()
    response = post_json(client, "/api/meta/capi", event, {"Origin": OWN_ORIGIN})
    assert response.status_code == 200, response.json
    assert response.json == {"ok": True, "duplicate": False, "id": event["event_id"]}
    row = clean_raw.execute(
        "select event_id, event_name, event_source_url, action_source, person_id, fbp, fbc, client_ip,"
        " client_user_agent, custom_data, event_time from raw.meta_capi_event"
    ).fetchone()
    assert row[:10] == (
        event["event_id"], "Purchase", event["event_source_url"], "website", "p_42", event["fbp"], event["fbc"],
        "127.0.0.1", UA, {"value": 49.0, "currency": "EUR"},
    )
    assert abs(row[10] - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_capi_retry_adds_nothing(client, clean_raw):
    event = capi_event()
    assert post_json(client, "/api/meta/capi", event).json["duplicate"] is False
    again = post_json(client, "/api/meta/capi", event)
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert count(clean_raw, "meta_capi_event") == 1


def test_capi_forged_person_cookie_is_not_trusted(client, clean_raw):
    genuine = person_cookie_value(SECRET, "p_42")
    client.set_cookie("gdp_pid", "p_victim." + genuine.rsplit(".", 1)[1])
    assert post_json(client, "/api/meta/capi", capi_event()).status_code == 200
    assert clean_raw.execute("select person_id from raw.meta_capi_event").fetchone() == (None,)


def test_capi_without_fb_cookies_or_custom_data_is_fine(client, clean_raw):
    event = capi_event(fbp=None, fbc=None)
    del event["custom_data"]
    assert post_json(client, "/api/meta/capi", event).status_code == 200
    assert clean_raw.execute("select fbp, fbc, custom_data from raw.meta_capi_event").fetchone() == (None, None, {})


@pytest.mark.parametrize(
    "payload, reason",
    [
        (capi_event(event_id="42"), "event_id must be a UUID"),
        (capi_event(event_id="<script>"), "event_id must be a UUID"),
        ({k: v for k, v in capi_event().items() if k != "event_id"}, "missing field 'event_id'"),
        (capi_event(event_name="HackTheAuction"), "not a Meta standard event"),
        (capi_event(event_name=7), "event_name must be a string"),
        ({k: v for k, v in capi_event().items() if k != "event_source_url"}, "missing field 'event_source_url'"),
        (capi_event(event_source_url="javascript:alert(1)"), "event_source_url must be an http(s) URL"),
        (capi_event(event_source_url="https://example.com/" + "a" * 2100), "event_source_url must be 1 to 2048"),
        (capi_event(custom_data=["value", 1]), "custom_data must be an object"),
        (capi_event(custom_data={"value": -5, "currency": "EUR"}), "custom_data.value must be a number"),
        (capi_event(custom_data={"value": "49", "currency": "EUR"}), "custom_data.value must be a number"),
        (capi_event(custom_data={"value": 1, "currency": "EURO"}), "custom_data.currency"),
        (capi_event(custom_data={f"k{i}": i for i in range(60)}), "custom_data must have at most"),
        (capi_event(fbc="IwAR0AbC"), "fbc must look like fb.1."),
        (capi_event(fbp="fb.1.notatime.123"), "fbp must look like fb.1."),
        (capi_event(user_data={"em": "x"}), "unknown field 'user_data'"),
        ("{not json", "body is not valid JSON"),
        ("[1, 2]", "body must be a JSON object"),
    ],
    ids=[
        "short-event-id", "markup-event-id", "no-event-id", "unknown-event-name", "non-string-name", "no-source-url",
        "script-source-url", "long-source-url", "custom-data-list", "negative-value", "string-value", "bad-currency",
        "too-many-keys", "bad-fbc", "bad-fbp", "unknown-field", "not-json", "json-array",
    ],
)
def test_capi_invalid_input_is_400_with_reason_and_nothing_stored(client, clean_raw, payload, reason):
    response = post_json(client, "/api/meta/capi", payload)
    assert response.status_code == 400
    assert reason in response.json["error"]
    assert count(clean_raw, "meta_capi_event") == 0


def test_capi_oversized_body_is_413_and_nothing_stored(client, clean_raw):
    response = post_json(client, "/api/meta/capi", capi_event(custom_data={"note": "x" * 20000}))
    assert response.status_code == 413
    assert count(clean_raw, "meta_capi_event") == 0


def test_capi_from_a_foreign_origin_is_refused(client, clean_raw):
    response = post_json(client, "/api/meta/capi", capi_event(), {"Origin": "https://evil.example"})
    assert response.status_code == 403 and "not allowed" in response.json["error"]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert count(clean_raw, "meta_capi_event") == 0


def test_capi_cors_for_an_allowed_origin(settings, database_url, clean_raw):
    app = make_app(settings, database_url, allowed_origins="https://www.example.com, https://shop.example.com/")
    try:
        client = app.test_client()
        preflight = client.options(
            "/api/meta/capi",
            headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
        assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
        assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
        assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]

        response = post_json(client, "/api/meta/capi", capi_event(), {"Origin": "https://www.example.com"})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
        assert "Origin" in response.headers["Vary"]
        # Error answers carry CORS too, so the page can read the reason.
        bad = post_json(client, "/api/meta/capi", capi_event(event_id="1"), {"Origin": "https://www.example.com"})
        assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "https://www.example.com"

        refused = client.options("/api/meta/capi", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
        assert count(clean_raw, "meta_capi_event") == 1
    finally:
        app.extensions["gdp_pool"].close()


# --- /api/identify ---------------------------------------------------------------


def identify_rows(conn):
    return conn.execute(
        "select person_id, email, distinct_id, app_user_id, payload->>'auth' from raw.identify_call order by landing_id"
    ).fetchall()


def bearer(token=API_TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_identify_with_api_token_lands_once(client, clean_raw):
    body = {"email": "  Ada@Example.ORG ", "distinct_id": "ph_anon_123", "app_user_id": "usr_9"}
    first = post_json(client, "/api/identify", body, bearer())
    assert first.status_code == 200 and first.json["duplicate"] is False
    again = post_json(client, "/api/identify", body, bearer())
    assert again.json == {**first.json, "duplicate": True}
    assert identify_rows(clean_raw) == [(None, "ada@example.org", "ph_anon_123", "usr_9", "token")]
    # A different identifier set is a new report.
    post_json(client, "/api/identify", {"person_id": "p_1", "distinct_id": "ph_anon_123"}, bearer())
    assert len(identify_rows(clean_raw)) == 2


@pytest.mark.parametrize(
    "headers, status, reason",
    [
        ({}, 401, "Authorization: Bearer"),
        (bearer("wrong-token"), 401, "invalid API token"),
        ({"Authorization": f"Basic {API_TOKEN}"}, 401, "invalid API token"),
        ({"Authorization": "Bearer "}, 401, "invalid API token"),
    ],
    ids=["no-auth", "wrong-token", "wrong-scheme", "empty-token"],
)
def test_identify_refused_without_token_or_cookie(client, clean_raw, headers, status, reason):
    response = post_json(client, "/api/identify", {"person_id": "p_1", "distinct_id": "ph_1"}, headers)
    assert response.status_code == status and reason in response.json["error"]
    assert identify_rows(clean_raw) == []


def test_identify_with_the_person_cookie_from_the_same_origin(client, clean_raw):
    client.set_cookie("gdp_pid", person_cookie_value(SECRET, "p_42"))
    response = post_json(client, "/api/identify", {"distinct_id": "ph_anon_7"}, {"Origin": OWN_ORIGIN})
    assert response.status_code == 200
    assert identify_rows(clean_raw) == [("p_42", None, "ph_anon_7", None, "cookie")]


@pytest.mark.parametrize(
    "cookie, body, headers, status, reason",
    [
        ("forged", {"distinct_id": "ph_1"}, {"Origin": OWN_ORIGIN}, 401, "Authorization: Bearer"),
        ("p_42", {"distinct_id": "ph_1"}, {}, 403, "Origin header"),
        ("p_42", {"distinct_id": "ph_1"}, {"Origin": "https://evil.example"}, 403, "not allowed"),
        ("p_42", {"distinct_id": "ph_1", "email": "victim@example.org"}, {"Origin": OWN_ORIGIN}, 403, "API token"),
        ("p_42", {"distinct_id": "ph_1", "person_id": "p_victim"}, {"Origin": OWN_ORIGIN}, 403, "differs"),
    ],
    ids=["forged-cookie", "no-origin", "foreign-origin", "email-with-cookie", "other-person"],
)
def test_identify_cookie_auth_limits(client, clean_raw, cookie, body, headers, status, reason):
    value = person_cookie_value(SECRET, "p_42")
    client.set_cookie("gdp_pid", value if cookie == "p_42" else "p_victim." + value.rsplit(".", 1)[1])
    response = post_json(client, "/api/identify", body, headers)
    assert response.status_code == status and reason in response.json["error"]
    assert identify_rows(clean_raw) == []


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"person_id": "p_1"}, "missing field 'distinct_id'"),
        ({"distinct_id": "ph_1"}, "one of person_id or email"),
        ({"email": "not-an-address", "distinct_id": "ph_1"}, "email is not an email address"),
        ({"person_id": "p_1", "distinct_id": 5}, "distinct_id must be a string"),
        ({"person_id": "p_1", "distinct_id": "x" * 300}, "distinct_id must be 1 to 200"),
        ({"person_id": "p_1", "distinct_id": "ph_1", "role": "admin"}, "unknown field 'role'"),
    ],
    ids=["no-distinct-id", "no-person", "bad-email", "non-string", "too-long", "unknown-field"],
)
def test_identify_invalid_input_is_400_and_nothing_stored(client, clean_raw, body, reason):
    response = post_json(client, "/api/identify", body, bearer())
    assert response.status_code == 400 and reason in response.json["error"]
    assert identify_rows(clean_raw) == []


def test_app_refuses_to_start_without_api_token(settings, database_url):
    from gdp.settings import MissingSetting

    with pytest.raises(MissingSetting, match="GDP_API_TOKEN"):
        make_app(settings, database_url, api_token=None)


# --- /gdp.js -----------------------------------------------------------------------


def test_snippet_is_served_as_javascript(client):
    response = client.get("/gdp.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"/api/meta/capi" in response.data and b"posthog.identify" in response.data
    assert "max-age=300" in response.headers["Cache-Control"]


def test_identify_cookie_claim_does_not_stand_in_for_the_apps_token_report(client, clean_raw):
    """A browser's claim landing first must not swallow the app's verified report of the same ids."""
    client.set_cookie("gdp_pid", person_cookie_value(SECRET, "p_42"))
    claimed = post_json(client, "/api/identify", {"distinct_id": "ph_anon_9", "app_user_id": "u_9"}, {"Origin": OWN_ORIGIN})
    assert claimed.status_code == 200 and claimed.json["duplicate"] is False
    client.delete_cookie("gdp_pid")
    reported = post_json(client, "/api/identify", {"person_id": "p_42", "distinct_id": "ph_anon_9", "app_user_id": "u_9"},
                         bearer())
    assert reported.status_code == 200 and reported.json["duplicate"] is False
    assert sorted(identify_rows(clean_raw), key=lambda r: r[4]) == [
        ("p_42", None, "ph_anon_9", "u_9", "cookie"), ("p_42", None, "ph_anon_9", "u_9", "token")]
