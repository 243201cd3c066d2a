"""/openapi.json is true to the app, and thousands of generated requests break nothing.

Three parts:
- the documented paths and methods are exactly the routes Flask registered;
- schemathesis generates requests for every documented operation from the
  description, both fitting it and deliberately not (positive and negative modes),
  without any secret: every answer is documented, none is 5xx, and nothing lands
  except through `/api/meta/capi`, which is public by design (each of its rows is
  checked against the CAPI rules);
- hypothesis generates arbitrary JSON bodies that ARE correctly signed for every
  webhook, so the code after verification meets hostile shapes: 200 or 400, never
  5xx, and a row only for a 200.
Afterwards /healthz still answers 200. The request count is printed (pytest -s).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ingest_app.browser_api import CUSTOM_EVENTS, STANDARD_EVENTS
from ingest_app.openapi import SPEC
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import (
    Delivery,
    cal_delivery,
    calendly_delivery,
    deal_event_request,
    posthog_delivery,
    resend_delivery,
    stripe_delivery,
)

pytestmark = pytest.mark.slow

SCHEMA_EXAMPLES = 75  # per operation and mode (positive; negative where there is a body)
SIGNED_EXAMPLES = 110  # per webhook
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
RAW_TABLES = ("resend_event", "stripe_event", "posthog_event", "click", "meta_capi_event", "identify_call",
              "cal_event", "calendly_event", "deal_event", "lead")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
FUZZ_SETTINGS = dict(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


@pytest.fixture
def fuzz_app(settings, database_url, clean_raw):
    from ingest_app import create_app

    # Rate limits have their own test; here they would turn most requests into 429s.
    unlimited = dict(rate_limit_clicks_per_min=0, rate_limit_capi_per_min=0, rate_limit_identify_per_min=0,
                     rate_limit_snippet_per_min=0)
    app = create_app(replace(settings, **unlimited), {"TESTING": True, "DATABASE_URL": database_url})
    yield app
    app.extensions["gdp_pool"].close()


def _flask_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        methods = set(rule.methods) - {"HEAD"}
        if getattr(rule, "provide_automatic_options", False):
            methods.discard("OPTIONS")
        routes |= {(path, m.lower()) for m in methods}
    return routes


def _documented_routes(spec) -> set[tuple[str, str]]:
    verbs = {"get", "post", "put", "patch", "delete", "options"}
    return {(path, verb) for path, item in spec["paths"].items() for verb in item if verb in verbs}


def test_openapi_json_matches_the_registered_routes(fuzz_app):
    served = fuzz_app.test_client().get("/openapi.json")
    assert served.status_code == 200 and served.json == json.loads(json.dumps(SPEC))
    assert _documented_routes(served.json) == _flask_routes(fuzz_app)


def _row_counts(conn) -> dict[str, int]:
    tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'raw'")]
    assert set(RAW_TABLES) <= set(tables)
    return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def test_schema_driven_fuzz_without_credentials(fuzz_app, conn):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    counts = {"requests": 0, "stored_capi": 0}
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {f"{verb.upper()} {path}" for path, item in SPEC["paths"].items() for verb in item if verb != "parameters"}
    # schemathesis leaves out the operation that serves the schema itself.
    assert {op.label for op in operations} == documented - {"GET /openapi.json"}

    for operation in operations:
        # Negative cases need something typed to violate: a body (any string header or path is already valid).
        can_negate = "requestBody" in SPEC["paths"][operation.path][operation.method.lower()]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if can_negate else (GenerationMode.POSITIVE,):

            @hypothesis.settings(max_examples=SCHEMA_EXAMPLES, **FUZZ_SETTINGS)
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                response = case.call()
                counts["requests"] += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
                case.validate_response(response, checks=CHECKS)

            fuzz()

    print(f"\nschema fuzz: {counts['requests']} requests over {len(operations)} operations, statuses {sorted(statuses.items())}")
    assert counts["requests"] >= 1400
    assert fuzz_app.test_client().get("/healthz").status_code == 200
    landed = _row_counts(conn)
    assert {t: n for t, n in landed.items() if t != "meta_capi_event" and n} == {}, "unauthenticated input landed"
    # The CAPI relay is public by design: whatever landed passed its rules.
    for name, event_id, url in conn.execute("select event_name, event_id, event_source_url from raw.meta_capi_event"):
        assert name in STANDARD_EVENTS | CUSTOM_EVENTS and UUID_RE.match(event_id) and url.startswith(("http://", "https://"))


# --- signed but hostile bodies -----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Envelopes close to each provider's shape, so the fuzz reaches past "missing field".
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values, "type": json_values, "created": json_values, "data": json_values,
        "created_at": json_values, "triggerEvent": json_values, "createdAt": json_values,
        "payload": st.dictionaries(st.sampled_from(["uid", "uri", "bookingId", "email", "attendees"]), json_values)
        | json_values,
        "event": json_values, "uuid": json_values, "distinct_id": json_values, "timestamp": json_values,
        "properties": json_values, "batch": json_values, "email": json_values, "stage": json_values,
        "occurred_at": json_values, "event_id": json_values, "livemode": json_values,
    },
)
bodies = envelopes | json_values | st.lists(envelopes, max_size=3)


def _sign(kind: str, body) -> Delivery:
    secret = TEST_SECRETS
    if kind == "resend":
        return resend_delivery(body, secret["resend_webhook_secret"], svix_id=f"msg_fuzz_{uuid.uuid4().hex}")
    if kind == "stripe":
        return stripe_delivery(body, secret["stripe_webhook_secret"])
    if kind == "posthog":
        return posthog_delivery(body, secret["posthog_webhook_secret"], shape="bare")
    if kind == "cal":
        return cal_delivery(body, secret["cal_webhook_secret"])
    if kind == "calendly":
        return calendly_delivery(body, secret["calendly_webhook_signing_key"])
    return deal_event_request(body, secret["api_token"])


def _fuzz_signed(kind: str, table: str, client, conn, tally: dict) -> None:
    @hypothesis.settings(max_examples=SIGNED_EXAMPLES, **FUZZ_SETTINGS)
    @given(body=bodies)
    def fuzz(body):
        delivery = _sign(kind, body)
        before = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
        answer = client.post(delivery.path, data=delivery.body, headers=delivery.headers)
        after = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
        tally["requests"] += 1
        assert answer.status_code in (200, 400), (kind, body, answer.status_code, answer.get_data(as_text=True))
        assert answer.json and set(answer.json) & {"ok", "error"}
        if answer.status_code == 400:
            assert after == before, f"{kind}: a refused delivery landed"
        tally["stored"] += after - before

    fuzz()


def test_signed_hostile_bodies_answer_200_or_400_and_land_only_on_200(fuzz_app, conn):
    client = fuzz_app.test_client()
    tally = {"requests": 0, "stored": 0}
    table = {"resend": "resend_event", "stripe": "stripe_event", "posthog": "posthog_event", "cal": "cal_event",
             "calendly": "calendly_event", "deals": "deal_event"}
    for kind, raw_table in table.items():
        _fuzz_signed(kind, raw_table, client, conn, tally)
    print(f"\nsigned fuzz: {tally['requests']} requests, {tally['stored']} rows stored")
    assert tally["requests"] >= 6 * SIGNED_EXAMPLES * 0.9
    assert client.get("/healthz").status_code == 200


# --- bodies that break parsers: nesting depth and lone surrogates --------------------

OWN_ORIGIN = "http://localhost"
DEEP = b"[" * 5000 + b"]" * 5000
LONE_SURROGATE = b'"\\ud800"'


def _variants() -> dict[str, tuple[str, dict, str]]:
    """Every endpoint variant that reads a JSON body: (name -> (path, body with "POISON", table))."""
    return {
        "resend": ("/webhooks/resend", {"type": "email.delivered", "data": {"email_id": "em_p", "x": "POISON"}}, "resend_event"),
        "stripe": ("/webhooks/stripe", {"id": "evt_p", "type": "customer.created", "created": 1700000000,
                                        "data": {"object": {"id": "cus_p", "x": "POISON"}}}, "stripe_event"),
        "posthog": ("/webhooks/posthog", {"uuid": str(uuid.uuid4()), "event": "$pageview", "distinct_id": "d_p",
                                          "properties": {"x": "POISON"}}, "posthog_event"),
        "cal": ("/webhooks/cal", {"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-01-01T00:00:00Z",
                                  "payload": {"uid": "b_p", "x": "POISON"}}, "cal_event"),
        "calendly": ("/webhooks/calendly", {"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z",
                                            "payload": {"uri": "https://api.calendly.com/i/p", "x": "POISON"}},
                     "calendly_event"),
        "deals": ("/api/deals/events", {"email": "p@example.com", "stage": "lead", "x": "POISON"}, "deal_event"),
        "capi": ("/api/meta/capi", {"event_id": str(uuid.uuid4()), "event_name": "Lead",
                                    "event_source_url": "https://example.com/", "custom_data": {"x": "POISON"}},
                 "meta_capi_event"),
        "identify-token": ("/api/identify", {"email": "p@example.com", "distinct_id": "POISON"}, "identify_call"),
        "identify-cookie": ("/api/identify", {"distinct_id": "POISON"}, "identify_call"),
    }


def _signed_request(kind: str, body: bytes) -> dict[str, str]:
    """Headers that authenticate `body` (raw bytes) for the endpoint variant `kind`."""
    import hashlib
    import hmac
    import time
    from datetime import datetime, timezone

    import stripe
    from svix.webhooks import Webhook

    secret, now = TEST_SECRETS, int(time.time())
    headers = {"Content-Type": "application/json"}
    if kind == "resend":
        svix_id = f"msg_{uuid.uuid4().hex}"
        signature = Webhook(secret["resend_webhook_secret"]).sign(svix_id, datetime.now(timezone.utc), body.decode())
        headers |= {"svix-id": svix_id, "svix-timestamp": str(now), "svix-signature": signature}
    elif kind == "stripe":
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            body.decode(), secret["stripe_webhook_secret"], timestamp=now)
    elif kind == "posthog":
        headers["Authorization"] = f"Bearer {secret['posthog_webhook_secret']}"
    elif kind == "cal":
        headers["X-Cal-Signature-256"] = hmac.new(secret["cal_webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
    elif kind == "calendly":
        mac = hmac.new(secret["calendly_webhook_signing_key"].encode(), f"{now}.".encode() + body, hashlib.sha256)
        headers["Calendly-Webhook-Signature"] = f"t={now},v1={mac.hexdigest()}"
    elif kind in ("deals", "identify-token"):
        headers["Authorization"] = f"Bearer {secret['api_token']}"
    elif kind == "identify-cookie":
        headers["Origin"] = OWN_ORIGIN
    return headers


@pytest.mark.parametrize("poison, reason", [(DEEP, "nested deeper than"), (LONE_SURROGATE, "surrogate")],
                         ids=["deep", "lone-surrogate"])
@pytest.mark.parametrize("kind", list(_variants()))
def test_deep_nesting_and_lone_surrogates_answer_400_on_every_endpoint(fuzz_app, conn, kind, poison, reason):
    from gdp.links import person_cookie_value

    path, template, table = _variants()[kind]
    body = json.dumps(template, separators=(",", ":")).encode().replace(b'"POISON"', poison)
    client = fuzz_app.test_client()
    if kind == "identify-cookie":
        client.set_cookie("gdp_pid", person_cookie_value(TEST_SECRETS["tracking_link_secret"], "p_poison"))
    before = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
    answer = client.post(path, data=body, headers=_signed_request(kind, body))
    assert answer.status_code == 400, (kind, answer.status_code, answer.get_data(as_text=True)[:300])
    assert reason in answer.json["error"] and "\n" not in answer.json["error"]
    assert conn.execute(f"select count(*) from raw.{table}").fetchone()[0] == before
    # The same template without poison is accepted, so the 400 is the poison's.
    clean = json.dumps(template, separators=(",", ":")).encode().replace(b'"POISON"', b'"fine"')
    clean = clean.replace(b'"em_p"', f'"em_{uuid.uuid4().hex}"'.encode())
    assert client.post(path, data=clean, headers=_signed_request(kind, clean)).status_code == 200, kind


@pytest.mark.parametrize("properties, reason", [("[" * 5000 + "]" * 5000, "nested deeper than"),
                                                ('{"x": "\\ud800"}', "surrogate")], ids=["deep", "lone-surrogate"])
def test_posthog_properties_sent_as_a_json_string_meet_the_same_limits(fuzz_app, conn, properties, reason):
    """PostHog may send `properties` as a JSON string, which is parsed after the body: same limits."""
    event = {"uuid": str(uuid.uuid4()), "event": "$pageview", "distinct_id": "d_p", "properties": properties}
    delivery = posthog_delivery(event, TEST_SECRETS["posthog_webhook_secret"], shape="bare")
    answer = fuzz_app.test_client().post(delivery.path, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 400 and reason in answer.json["error"]
    assert conn.execute("select count(*) from raw.posthog_event").fetchone()[0] == 0
