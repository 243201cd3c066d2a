"""Per-IP rate limits on the public browser endpoints: 429 with Retry-After, nothing stored."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from gdp.links import LinkToken, make_token
from ingest_app.ratelimit import TokenBuckets, burst_for
from tests.conftest import TEST_SECRETS


def _app(settings, database_url, **limits):
    from ingest_app import create_app

    return create_app(replace(settings, **limits), {"TESTING": True, "DATABASE_URL": database_url})


@pytest.fixture
def limited(settings, database_url):
    apps = []

    def make(**limits):
        app = _app(settings, database_url, rate_limit_burst_s=6.0, **limits)
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["gdp_pool"].close()


def _capi_body():
    return {"event_id": str(uuid.uuid4()), "event_name": "Lead", "event_source_url": "https://www.example.com/signup"}


def test_token_bucket_refills_at_the_rate_and_answers_the_wait():
    now = [100.0]
    buckets = TokenBuckets(clock=lambda: now[0])
    # 60/min = 1 token a second, burst 3.
    assert [buckets.take("x", "1.2.3.4", 60, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("x", "1.2.3.4", 60, 3) == pytest.approx(1.0)
    assert buckets.take("x", "5.6.7.8", 60, 3) == 0.0, "another IP has its own bucket"
    assert buckets.take("y", "1.2.3.4", 60, 3) == 0.0, "another endpoint has its own bucket"
    now[0] += 0.5
    assert buckets.take("x", "1.2.3.4", 60, 3) == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("x", "1.2.3.4", 60, 3) == 0.0
    assert buckets.take("x", "1.2.3.4", 0, 3) == 0.0, "0 per minute means unlimited"
    assert burst_for(600, 10) == 100 and burst_for(1, 10) == 1


def test_bucket_count_is_bounded():
    buckets = TokenBuckets(max_buckets=50)
    for i in range(500):
        buckets.take("clicks", f"10.0.{i // 256}.{i % 256}", 60, 5)
    assert len(buckets) == 50


def test_capi_flood_from_one_ip_gets_429_with_retry_after_and_stores_nothing_more(limited, conn, clean_raw):
    client = limited(rate_limit_capi_per_min=60)  # burst = 6 s x 1/s = 6
    statuses = [client.post("/api/meta/capi", json=_capi_body()).status_code for _ in range(10)]
    assert statuses == [200] * 6 + [429] * 4
    refused = client.post("/api/meta/capi", json=_capi_body())
    assert refused.status_code == 429 and refused.json["error"].startswith("rate limit of 60 requests per minute")
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert conn.execute("select count(*) from raw.meta_capi_event").fetchone()[0] == 6
    other = client.post("/api/meta/capi", json=_capi_body(), environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 200, "another address is not affected"


def test_clicks_and_snippet_are_limited_per_ip(limited, conn, clean_raw):
    client = limited(rate_limit_clicks_per_min=30, rate_limit_snippet_per_min=20)  # bursts 3 and 2
    token = make_token(TEST_SECRETS["tracking_link_secret"], LinkToken("p_rl", "c1", "newsletter", "https://app.example.com/x"))
    path = f"/c/{token}"
    ua = {"User-Agent": "Mozilla/5.0"}
    assert [client.get(path, headers=ua).status_code for _ in range(5)] == [302, 302, 302, 429, 429]
    assert conn.execute("select count(*) from raw.click").fetchone()[0] == 3
    assert [client.get("/gdp.js").status_code for _ in range(4)] == [200, 200, 429, 429]


def test_trusted_proxy_address_is_the_limited_client(limited):
    client = limited(rate_limit_snippet_per_min=10, trusted_proxies=1)  # burst 1
    assert client.get("/gdp.js", headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 200
    assert client.get("/gdp.js", headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert client.get("/gdp.js", headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200


def test_exempt_addresses_the_api_token_and_preflights_are_not_limited(limited, clean_raw):
    client = limited(rate_limit_capi_per_min=10, rate_limit_identify_per_min=10, rate_limit_exempt="10.9.0.0/16, ::1",
                     allowed_origins="https://www.example.com")
    exempt = {"REMOTE_ADDR": "10.9.3.4"}
    assert all(client.post("/api/meta/capi", json=_capi_body(), environ_base=exempt).status_code == 200 for _ in range(5))
    token = {"Authorization": f"Bearer {TEST_SECRETS['api_token']}"}
    for i in range(5):
        answer = client.post("/api/identify", json={"person_id": "p_rl", "distinct_id": f"d{i}"}, headers=token)
        assert answer.status_code == 200
    bad_token = {"Authorization": "Bearer wrong"}
    assert [client.post("/api/identify", json={"distinct_id": "x"}, headers=bad_token).status_code
            for _ in range(3)] == [401, 429, 429]
    preflight = {"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"}
    assert all(client.options("/api/meta/capi", headers=preflight).status_code == 204 for _ in range(5))


def test_a_bad_exempt_setting_stops_the_app(settings, database_url):
    with pytest.raises(ValueError, match="GDP_RATE_LIMIT_EXEMPT"):
        _app(settings, database_url, rate_limit_exempt="10.0.0.0/8,not-an-ip")
