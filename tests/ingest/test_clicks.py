"""`GET /c/<token>`: the click row, the person cookie, the redirect, and no open redirect."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import gdp.links as links
from gdp.links import InvalidLink, mint_link, read_person_cookie, verify_token
from tests.conftest import TEST_SECRETS

SECRET = TEST_SECRETS["tracking_link_secret"]
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
DESTINATION = "https://app.example.com/pricing?plan=pro&utm_source=newsletter&empty=#top"


def path_of(link: str) -> str:
    return urlsplit(link).path


def clicks(conn):
    return conn.execute(
        "select click_id, person_id, campaign_id, funnel, email_id, destination_url, ip, user_agent, referrer,"
        " fbclid, utm, is_bot, bot_reason from raw.click order by landing_id"
    ).fetchall()


@pytest.fixture
def link(settings):
    return mint_link(settings, "p_1", "welcome", "newsletter", DESTINATION, email_id="em_1")


def make_app(settings, database_url, **overrides):
    from ingest_app import create_app

    return create_app(dataclasses.replace(settings, **overrides), {"TESTING": True, "DATABASE_URL": database_url})


def test_valid_click_lands_once_per_request_with_its_fields(client, clean_raw, link):
    response = client.get(
        path_of(link) + "?fbclid=IwAR0abc&utm_medium=email",
        headers={"User-Agent": CHROME, "Referer": "https://mail.example.net/inbox"},
    )
    assert response.status_code == 302
    rows = clicks(clean_raw)
    assert len(rows) == 1
    click_id, person_id, campaign_id, funnel, email_id, destination, ip, ua, referrer, fbclid, utm, is_bot, reason = rows[0]
    assert (person_id, campaign_id, funnel, email_id, destination) == ("p_1", "welcome", "newsletter", "em_1", DESTINATION)
    assert (ip, ua, referrer, fbclid) == ("127.0.0.1", CHROME, "https://mail.example.net/inbox", "IwAR0abc")
    assert utm == {"utm_source": "newsletter", "utm_medium": "email"}
    assert (is_bot, reason) == (False, None)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["gdp_click_id"] == [click_id]

    second = client.get(path_of(link), headers={"User-Agent": CHROME})
    assert second.status_code == 302
    ids = [row[0] for row in clicks(clean_raw)]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_redirect_keeps_destination_query_and_fragment_and_adds_click_id(client, clean_raw, link):
    location = client.get(path_of(link) + "?fbclid=IwAR0abc", headers={"User-Agent": CHROME}).headers["Location"]
    assert location.startswith("https://app.example.com/pricing?plan=pro&utm_source=newsletter&empty=&")
    assert location.endswith("#top")
    query = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert query["plan"] == ["pro"] and query["empty"] == [""] and query["fbclid"] == ["IwAR0abc"]
    assert len(query["gdp_click_id"]) == 1


def test_a_click_id_already_in_the_destination_is_replaced(settings, client, clean_raw):
    link = mint_link(settings, "p_1", "c", "f", "https://example.com/?gdp_click_id=stale&a=1")
    location = client.get(path_of(link), headers={"User-Agent": CHROME}).headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["a"] == ["1"] and query["gdp_click_id"] != ["stale"] and len(query["gdp_click_id"]) == 1


def cookie_header(response) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("gdp_pid=")]
    return header


def test_person_cookie_attributes_over_http(client, clean_raw, link):
    header = cookie_header(client.get(path_of(link), headers={"User-Agent": CHROME}))
    attributes = [part.strip() for part in header.split(";")]
    value = attributes[0].split("=", 1)[1]
    assert read_person_cookie(SECRET, value) == "p_1"
    assert "Max-Age=31536000" in attributes and "Path=/" in attributes and "SameSite=Lax" in attributes
    assert "Secure" not in attributes and "HttpOnly" not in attributes  # gdp.js reads it
    assert not any(a.startswith("Domain=") for a in attributes)


def test_person_cookie_is_secure_over_https_and_carries_tracking_domain(settings, database_url, clean_raw):
    app = make_app(settings, database_url, tracking_domain="example.com")
    try:
        link = mint_link(settings, "p_1", "welcome", "newsletter", DESTINATION)
        client = app.test_client()
        attributes = cookie_header(client.get(path_of(link), base_url="https://go.example.com", headers={"User-Agent": CHROME})).split("; ")
        assert "Secure" in attributes and "Domain=example.com" in attributes
        # X-Forwarded-Proto is ignored unless GDP_TRUSTED_PROXIES says a proxy sets it.
        spoofed = cookie_header(client.get(path_of(link), headers={"User-Agent": CHROME, "X-Forwarded-Proto": "https"}))
        assert "Secure" not in spoofed.split("; ")
    finally:
        app.extensions["gdp_pool"].close()


def test_trusted_proxy_headers_give_scheme_and_client_ip(settings, database_url, clean_raw):
    app = make_app(settings, database_url, trusted_proxies=1)
    try:
        link = mint_link(settings, "p_1", "welcome", "newsletter", DESTINATION)
        response = app.test_client().get(
            path_of(link),
            headers={"User-Agent": CHROME, "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9, 203.0.113.5"},
        )
        assert "Secure" in cookie_header(response).split("; ")
        assert clicks(clean_raw)[0][6] == "203.0.113.5"  # the value the one trusted proxy appended
    finally:
        app.extensions["gdp_pool"].close()


def tampered_tokens(settings):
    good = path_of(mint_link(settings, "p_1", "welcome", "newsletter", "https://evil.example/steal"))
    token = good.rsplit("/", 1)[1]
    flipped = token[:8] + ("A" if token[8] != "A" else "B") + token[9:]
    foreign = mint_link(dataclasses.replace(settings, tracking_link_secret="someone-else"), "p_1", "c", "f", "https://evil.example/")
    return {
        "flipped-char": flipped,
        "truncated": token[: len(token) // 2],
        "mac-cut": token[:-4],
        "extra-chars": token + "AAAA",
        "other-secret": foreign.rsplit("/", 1)[1],
        "garbage": "not-a-token",
        "bad-alphabet": token[:10] + "%2F" + token[10:],
        "extra-path": token + "/more",
        "empty": "",
    }


@pytest.mark.parametrize("case", ["flipped-char", "truncated", "mac-cut", "extra-chars", "other-secret", "garbage", "bad-alphabet", "extra-path", "empty"])
def test_tampered_or_unknown_token_goes_to_app_base_url_and_stores_nothing(settings, client, clean_raw, case):
    token = tampered_tokens(settings)[case]
    response = client.get(f"/c/{token}", headers={"User-Agent": CHROME})
    assert response.status_code == 302
    assert response.headers["Location"] == settings.app_base_url
    assert "evil.example" not in response.headers["Location"]
    assert not response.headers.getlist("Set-Cookie")
    assert clicks(clean_raw) == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "JavaScript:alert(1)",
                                 "ftp://example.com/", "/relative/path", "https://", "https:\\\\evil.example", " https://example.com/",
                                 "https://example.com/\nSet-Cookie: x=1"])
def test_non_http_destinations_are_refused_at_mint_time(settings, url):
    with pytest.raises(InvalidLink):
        mint_link(settings, "p_1", "welcome", "newsletter", url)


def test_a_signed_token_with_a_script_destination_still_never_redirects_there(settings, client, clean_raw, monkeypatch):
    # Defence in depth: even a correctly signed token must carry an http(s) URL to be followed.
    monkeypatch.setattr(links, "check_destination", lambda url: url)
    token = path_of(mint_link(settings, "p_1", "c", "f", "javascript:alert(1)")).rsplit("/", 1)[1]
    monkeypatch.undo()
    response = client.get(f"/c/{token}", headers={"User-Agent": CHROME})
    assert response.headers["Location"] == settings.app_base_url
    assert clicks(clean_raw) == []


def test_missing_ids_are_refused_at_mint_time(settings):
    with pytest.raises(InvalidLink, match="person_id"):
        mint_link(settings, "", "welcome", "newsletter", DESTINATION)
    with pytest.raises(InvalidLink, match="campaign_id"):
        mint_link(settings, "p_1", " ", "newsletter", DESTINATION)


def test_token_round_trip_keeps_every_field_and_long_urls_stay_compact(settings):
    url = "https://example.com/blog/" + "a-long-article-slug-" * 10 + "?utm_source=newsletter&utm_campaign=welcome"
    link = mint_link(settings, "p_7f3a", "welcome", "newsletter", url, email_id="4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    token = path_of(link).rsplit("/", 1)[1]
    decoded = verify_token(SECRET, token)
    assert (decoded.person_id, decoded.campaign_id, decoded.funnel, decoded.url) == ("p_7f3a", "welcome", "newsletter", url)
    assert decoded.email_id == "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
    assert len(token) < len(url)  # deflate keeps links with long URLs short


def test_head_request_is_recorded_as_bot(client, clean_raw, link):
    response = client.head(path_of(link), headers={"User-Agent": CHROME})
    assert response.status_code == 302
    assert [(row[11], row[12]) for row in clicks(clean_raw)] == [(True, "head_request")]


SCANNER_UAS = {
    "barracuda": "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "mimecast": "Mozilla/5.0 (Windows NT 10.0) Mimecast URL Protect",
    "proofpoint": "Proofpoint URL Defense urldefense.com/v3",
    "microsoft_safelinks": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "google_safety": "Mozilla/5.0 (compatible; Google-Safety; +http://www.google.com/bot.html)",
    "link_preview": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "crawler": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "http_library": "python-requests/2.32.3",
    "no_user_agent": "",
}


@pytest.mark.parametrize("reason", list(SCANNER_UAS))
def test_mail_scanners_and_bots_are_recorded_as_bot(client, clean_raw, link, reason):
    response = client.get(path_of(link), headers={"User-Agent": SCANNER_UAS[reason]})
    assert response.status_code == 302 and response.headers["Location"].startswith("https://app.example.com/")
    assert [(row[11], row[12]) for row in clicks(clean_raw)] == [(True, reason)]


@pytest.mark.parametrize(
    "ua",
    [
        CHROME,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Linux; Android 13; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
    ],
    ids=["chrome", "safari-ios", "firefox", "android-cubot"],
)
def test_real_browsers_are_not_bots(client, clean_raw, link, ua):
    client.get(path_of(link), headers={"User-Agent": ua})
    assert [(row[11], row[12]) for row in clicks(clean_raw)] == [(False, None)]


def test_click_still_redirects_when_the_database_is_down(settings, caplog):
    from ingest_app import create_app

    app = create_app(settings, {"TESTING": True, "DATABASE_URL": "postgresql://gdp@127.0.0.1:1/nowhere?connect_timeout=1"})
    try:
        link = mint_link(settings, "p_1", "welcome", "newsletter", DESTINATION)
        with caplog.at_level("ERROR", logger="ingest_app.clicks"):
            response = app.test_client().get(path_of(link), headers={"User-Agent": CHROME})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("https://app.example.com/pricing?plan=pro")
        assert cookie_header(response).startswith("gdp_pid=p_1.")
        assert any("not recorded" in r.getMessage() for r in caplog.records)
        assert not any(link.rsplit("/", 1)[1] in r.getMessage() for r in caplog.records)  # token not logged
    finally:
        app.extensions["gdp_pool"].close()


def test_app_refuses_to_start_without_tracking_link_secret(settings, database_url):
    from gdp.settings import MissingSetting

    with pytest.raises(MissingSetting, match="TRACKING_LINK_SECRET"):
        make_app(settings, database_url, tracking_link_secret=None)


def test_gdp_link_command_prints_a_verifiable_tracked_url(monkeypatch):
    from gdp.cli import main
    from gdp.settings import get_settings

    monkeypatch.setenv("TRACKING_LINK_SECRET", SECRET)
    monkeypatch.setenv("GDP_PUBLIC_BASE_URL", "https://go.example.com")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        args = ["link", "--person", "p_1", "--campaign", "welcome", "--funnel", "newsletter", "--url", DESTINATION, "--email-id", "em_1"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        url = result.output.strip()
        assert url.startswith("https://go.example.com/c/")
        assert verify_token(SECRET, url.rsplit("/", 1)[1]).email_id == "em_1"
        refused = runner.invoke(main, args[:-4] + ["--url", "javascript:alert(1)"])
        assert refused.exit_code != 0 and "http(s)" in refused.output
    finally:
        get_settings.cache_clear()
