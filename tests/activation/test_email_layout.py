"""The email layout and the link rule: what a recipient sees, and that only templates choose link targets."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from activation.render import Template, TemplateError, load_template, render, template_names
from gdp.links import verify_token
from tests.activation_support import make_settings

ADDRESS = "Acme Analytics GmbH, Torstraße 1, 10119 Berlin"


class _Page(HTMLParser):
    """Visible text, hidden text (the preheader) and links, read as a mail client would."""

    def __init__(self):
        super().__init__()
        self.links, self.visible, self.hidden, self._hidden_depth, self._skip = [], [], [], 0, 0
        self.meta = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag == "meta" and attrs.get("name"):
            self.meta[attrs["name"]] = attrs.get("content")
        if tag in ("style", "title", "script"):
            self._skip += 1
        if tag == "div" and ("display:none" in (attrs.get("style") or "").replace(" ", "") or self._hidden_depth):
            self._hidden_depth += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title", "script"):
            self._skip -= 1
        if tag == "div" and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data):
        if self._skip or not data.strip():
            return
        (self.hidden if self._hidden_depth else self.visible).append(data.strip())


def _render(tmp_path, name="one_minute_setup", person=None, **settings):
    s = make_settings(tmp_path, email_postal_address=ADDRESS, email_from="Acme <hi@acme.example>", **settings)
    email = render(load_template(name), settings=s, person=person or {"person_id": "p1", "first_name": "Ada"},
                   features={}, context={}, funnel="newsletter", outbox_key="seg:p1:1:email:0")
    page = _Page()
    page.feed(email.html)
    return s, email, page


def test_a_rendered_email_has_preheader_brand_footer_address_unsubscribe_and_text_part(tmp_path):
    settings, email, page = _render(tmp_path)

    assert email.html.lower().startswith("<!doctype html>")
    assert email.preheader == "Connect your first project and see results right away."
    assert " ".join(page.hidden).startswith(email.preheader), "the preheader is the hidden first text a client previews"
    assert email.preheader not in " ".join(page.visible)
    visible = " ".join(page.visible)
    assert visible.startswith("Acme"), "brand block first"
    assert ADDRESS in visible and "Unsubscribe" in visible
    assert email.unsubscribe_url in page.links and email.unsubscribe_url.startswith("https://t.example.com/unsubscribe?")
    assert page.meta.get("color-scheme") == "light dark" and page.meta.get("supported-color-schemes") == "light dark"
    assert "prefers-color-scheme: dark" in email.html
    assert "<title>Ada, your setup takes one minute</title>" in email.html
    (tracked,) = [link for link in page.links if "/c/" in link]
    assert verify_token(settings.tracking_link_secret, tracked.rsplit("/c/", 1)[1]).url == "http://localhost:3000/onboarding"

    text = email.text
    assert text.startswith("Hi Ada,") and f"Finish setup in one minute: {tracked}" in text
    assert f"\n--\nAcme\n{ADDRESS}\nUnsubscribe: {email.unsubscribe_url}\n" in text
    assert "<" not in text, "the text part carries no markup"


def test_every_template_has_a_preheader_and_renders_in_the_layout(tmp_path):
    for name in template_names():
        _, email, page = _render(tmp_path, name)
        assert email.preheader and email.preheader == load_template(name).preheader, name
        assert ADDRESS in " ".join(page.visible) and email.unsubscribe_url in page.links, name
        assert len([link for link in page.links if "/c/" in link]) == len(email.links) >= 1, name


@pytest.mark.parametrize("name", [
    "[Verify your account](https://good.example@evil.example/login)",
    '<a href="https://evil.example/">Claim</a>',
    "<script>alert(1)</script>",
    "{{ 7 * 7 }} {% for x in [1] %}loop{% endfor %}",
    "<img src=x onerror=alert(1)>\n\n<p>new paragraph</p>",
])
def test_a_hostile_first_name_is_inert_text_in_both_parts(tmp_path, name):
    _, email, page = _render(tmp_path, person={"person_id": "p1", "first_name": name})

    assert all(link.startswith("https://t.example.com/") for link in page.links), page.links
    assert not any("evil.example" in link for link in page.links)
    assert not re.search(r"<(script|img|a href=\"https://evil)", email.html, re.I)
    assert name.split("\n")[0] in " ".join(page.visible) or "<img" in name, "shown as the person typed it"
    assert name.split("\n")[0] in email.text and name.split("\n")[0] in email.subject
    assert "49" not in email.text and "loop" not in email.text.replace("{% for x in [1] %}loop", "")
    assert len(email.links) == 1


def test_template_text_itself_is_escaped_in_html(tmp_path):
    template = Template("t", "R&D <news>", "Hi,\n\nR&D <b>news</b> {{ link(app_url ~ '/x', 'Go & see') }}", "t")
    email = render(template, settings=make_settings(tmp_path), person={"person_id": "p1"}, features={}, context={},
                   funnel="newsletter", outbox_key="k")
    assert "R&amp;D &lt;b&gt;news&lt;/b&gt;" in email.html and ">Go &amp; see</a>" in email.html
    assert email.subject == "R&D <news>" and "<title>R&amp;D &lt;news&gt;</title>" in email.html


@pytest.mark.parametrize("body, reason", [
    ("[Start]({{ app_url }}/signup)", "not [label](url)"),
    ("{{ link(person.website, 'My site') }}", "string literals and app_url only"),
    ("{{ link(app_url ~ context.path, 'Go') }}", "string literals and app_url only"),
    ("{{ link(url=app_url, label='Go') }}", "string literals and app_url only"),
    ("{{ person.name|safe }}", "would let a variable be markup"),
    ("{% autoescape false %}{{ person.name }}{% endautoescape %}", "would let a variable be markup"),
])
def test_a_template_whose_link_a_variable_could_steer_does_not_load(tmp_path, body, reason):
    (tmp_path / "bad.yml").write_text(f'subject: "s"\nbody: "{body}"\n')
    with pytest.raises(TemplateError, match=re.escape(reason)):
        load_template("bad", tmp_path)
