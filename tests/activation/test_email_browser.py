"""A rendered email in real headless Chromium (Debian's `chromium`): offline, readable in light and dark mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from activation.render import load_template, render
from tests.activation_support import make_settings
from tests.ingest.test_browser_snippet import CHROMIUM_ARGS
from tests.setup_browser import ensure_chromium

pytestmark = pytest.mark.slow

ADDRESS = "Acme Analytics GmbH, Torstraße 1, 10119 Berlin"
TEXT_COLOUR = "getComputedStyle(document.querySelector('.gdp-body div')).color"
CARD_BACKGROUND = "getComputedStyle(document.querySelector('.gdp-card')).backgroundColor"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_email_opens_offline_with_footer_and_stays_readable_in_dark_mode(browser, tmp_path):
    settings = make_settings(tmp_path, email_postal_address=ADDRESS, email_from="Acme <hi@acme.example>")
    email = render(load_template("use_case_pack"), settings=settings, person={"person_id": "p1", "first_name": "Ada"},
                   features={}, context={}, funnel="newsletter", outbox_key="k")
    path = tmp_path / "email.html"
    path.write_text(email.html)
    context = browser.new_context(viewport={"width": 640, "height": 900})
    try:
        page = context.new_page()
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())

        assert errors == [] and requests == [path.as_uri()], "an email loads nothing from the network"
        visible = page.inner_text("body")
        assert ADDRESS in visible and "Unsubscribe" in visible and "Open the use case pack" in visible
        assert email.preheader not in visible, "the preheader is for the inbox list, not the opened email"
        assert page.get_attribute("a:text('Unsubscribe')", "href") == email.unsubscribe_url
        light = (_luminance(page.evaluate(TEXT_COLOUR)), _luminance(page.evaluate(CARD_BACKGROUND)))
        page.screenshot(path=str(tmp_path / "email-light.png"), full_page=True)

        page.emulate_media(color_scheme="dark")
        dark = (_luminance(page.evaluate(TEXT_COLOUR)), _luminance(page.evaluate(CARD_BACKGROUND)))
        page_dark = _luminance(page.evaluate("getComputedStyle(document.body).backgroundColor"))
        page.screenshot(path=str(tmp_path / "email-dark.png"), full_page=True)
    finally:
        context.close()

    assert light[1] - light[0] > 0.6, f"light mode: dark text on a light card {light}"
    assert dark[0] - dark[1] > 0.6, f"dark mode: light text on a dark card {dark}"
    assert page_dark < 0.1, "dark mode: the whole page goes dark, not just the content"
