"""gdp.js in real headless Chromium (Debian's `chromium`) against the real app on a local port.

The page carries recording stand-ins for the Meta Pixel (`fbq`) and PostHog
(`posthog.identify`); the snippet and the endpoints are the real ones. What is
checked is what Meta's deduplication and PostHog's identity rely on: the Pixel's
eventID is the event_id the server stored, and identify got the cookie's person.
"""

from __future__ import annotations

import re
import threading
import uuid

import psycopg
import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from gdp.links import mint_link
from tests.setup_browser import ensure_chromium

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>landing</title>
<script>
  window.__calls = {fbq: [], identify: [], register: []};
  window.fbq = function () { window.__calls.fbq.push(Array.prototype.slice.call(arguments)); };
  window.posthog = {identify: function (id, props) { window.__calls.identify.push([id, props === undefined ? null : props]); },
                    register: function (props) { window.__calls.register.push(props); }};
  %(config)s
</script>
<script src="/gdp.js"></script>
</head><body><p>landing</p></body></html>
"""


@pytest.fixture(scope="module")
def live_app(settings, database_url):
    """The real ingest app on 127.0.0.1:<random port>, plus two test pages on the same origin."""
    from ingest_app import create_app

    app = create_app(settings, {"TESTING": True, "DATABASE_URL": database_url})
    app.add_url_rule("/landing", "landing", lambda: LANDING % {"config": 'window.gdpConfig = {email: "ada@example.org"};'})
    app.add_url_rule("/plain", "plain", lambda: LANDING % {"config": ""})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        app.extensions["gdp_pool"].close()


@pytest.fixture(scope="module")
def browser():
    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def stored_event(database_url, event_id):
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "select event_name, person_id, fbp, fbc, event_source_url, client_user_agent, custom_data"
            " from raw.meta_capi_event where event_id = %s",
            (event_id,),
        ).fetchone()


def track(page, event_name, custom_data):
    with page.expect_response(lambda r: r.url.endswith("/api/meta/capi")) as answer:
        event_id = page.evaluate("([name, data]) => gdp.track(name, data)", [event_name, custom_data])
    return event_id, answer.value


def test_click_then_track_shares_event_id_with_the_pixel_and_identifies_the_person(live_app, browser, settings, database_url):
    person_id = f"p_browser_{uuid.uuid4().hex[:8]}"
    link = mint_link(settings, person_id, "welcome", "newsletter", f"{live_app}/landing?utm_source=newsletter")
    link = link.replace(settings.public_base_url.rstrip("/"), live_app)
    context = browser.new_context(user_agent=DESKTOP_UA)
    try:
        page = context.new_page()
        page.goto(link + "?fbclid=IwAR_Test-Case9")
        assert "/landing?utm_source=newsletter" in page.url and "gdp_click_id=" in page.url
        page.wait_for_function("window.gdp && window.gdp.version")

        event_id, response = track(page, "Purchase", {"value": 49, "currency": "EUR"})
        assert response.status == 200 and response.json()["id"] == event_id
        calls = page.evaluate("window.__calls")
        assert calls["fbq"] == [["track", "Purchase", {"value": 49, "currency": "EUR"}, {"eventID": event_id}]]

        event_name, stored_person, fbp, fbc, source_url, user_agent, custom_data = stored_event(database_url, event_id)
        assert event_name == "Purchase" and stored_person == person_id
        assert re.fullmatch(r"fb\.1\.\d{13}\.IwAR_Test-Case9", fbc) and fbp is None
        assert source_url == page.url and user_agent == DESKTOP_UA
        assert custom_data == {"value": 49, "currency": "EUR"}

        # identify ran once, on load, with the cookie's person and the page's email.
        page.evaluate("gdp.identify()")
        assert page.evaluate("window.__calls.identify") == [[person_id, {"email": "ada@example.org"}]]

        # A project custom event goes to the Pixel as trackCustom, same id both ways.
        custom_id, custom_response = track(page, "NewsletterSignup", {})
        assert custom_response.status == 200
        assert page.evaluate("window.__calls.fbq")[-1] == ["trackCustom", "NewsletterSignup", {}, {"eventID": custom_id}]
        assert stored_event(database_url, custom_id)[1] == person_id

        # Checkout: the page mints the id before the session (metadata.gdp_event_id) and tracks Purchase with it.
        minted = page.evaluate("gdp.eventId()")
        with page.expect_response(lambda r: r.url.endswith("/api/meta/capi")) as answer:
            tracked = page.evaluate("(id) => gdp.track('Purchase', {}, {eventId: id.toUpperCase()})", minted)
        assert tracked == minted and answer.value.status == 200
        assert page.evaluate("window.__calls.fbq")[-1] == ["track", "Purchase", {}, {"eventID": minted}]
        assert stored_event(database_url, minted)[0] == "Purchase"

        with psycopg.connect(database_url) as conn:
            assert conn.execute(
                "select count(*) from raw.click where person_id = %s and not is_bot", (person_id,)
            ).fetchone() == (1,)
    finally:
        context.close()


def test_insecure_context_fallback_uuid_and_fb_cookies_without_a_person(live_app, browser, database_url):
    context = browser.new_context(user_agent=DESKTOP_UA)
    # Pages that are not a secure context have no crypto.randomUUID; gdp.js must fall back.
    context.add_init_script("delete Crypto.prototype.randomUUID;")
    host = live_app.removeprefix("http://").split(":")[0]
    context.add_cookies(
        [
            {"name": "_fbp", "value": "fb.1.1732000000000.987654321", "domain": host, "path": "/"},
            {"name": "_fbc", "value": "fb.1.1732000000001.IwAR_fromCookie", "domain": host, "path": "/"},
        ]
    )
    try:
        page = context.new_page()
        page.goto(f"{live_app}/plain?fbclid=IwAR_ignored")
        page.wait_for_function("window.gdp && window.gdp.version")
        assert page.evaluate("typeof crypto.randomUUID") == "undefined"

        event_id, response = track(page, "Lead", {})
        assert response.status == 200
        assert UUID4.match(event_id)
        assert page.evaluate("window.__calls.fbq") == [["track", "Lead", {}, {"eventID": event_id}]]
        _, person, fbp, fbc, _, _, _ = stored_event(database_url, event_id)
        assert (person, fbp, fbc) == (None, "fb.1.1732000000000.987654321", "fb.1.1732000000001.IwAR_fromCookie")
        # No person cookie: PostHog is left alone.
        assert page.evaluate("window.__calls.identify") == []
    finally:
        context.close()


def test_landing_click_id_and_utm_become_posthog_super_properties(live_app, browser, settings):
    """Every PostHog event of a visit a tracked click started carries that click and its campaign."""
    person_id = f"p_landing_{uuid.uuid4().hex[:8]}"
    link = mint_link(settings, person_id, "welcome", "newsletter",
                     f"{live_app}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=welcome")
    link = link.replace(settings.public_base_url.rstrip("/"), live_app)
    context = browser.new_context(user_agent=DESKTOP_UA)
    try:
        page = context.new_page()
        page.goto(link)
        page.wait_for_function("window.gdp && window.gdp.version")
        click_id = re.search(r"gdp_click_id=([0-9a-f]+)", page.url).group(1)
        assert page.evaluate("window.__calls.register") == [
            {"gdp_click_id": click_id, "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "welcome"}
        ]
    finally:
        context.close()
