"""Unsubscribe links: signed per person and campaign, GET is harmless, POST records once."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from gdp.links import unsubscribe_url


def _path(settings, person="p_unsub", campaign="weekly_digest"):
    parts = urlsplit(unsubscribe_url(settings, person, campaign))
    return f"{parts.path}?{parts.query}"


def _count(conn):
    return conn.execute("select count(*) from raw.unsubscribe").fetchone()[0]


def test_get_shows_a_button_and_stores_nothing(client, clean_raw, settings):
    response = client.get(_path(settings))
    assert response.status_code == 200
    assert b"<form method=post" in response.data and b"Unsubscribe</button>" in response.data
    assert _count(clean_raw) == 0


def test_page_button_and_one_click_record_once(client, clean_raw, settings):
    path = _path(settings)
    assert client.post(path).status_code == 200
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and b"You are unsubscribed" in one_click.data
    rows = clean_raw.execute("select person_id, campaign_id, method from raw.unsubscribe").fetchall()
    assert rows == [("p_unsub", "weekly_digest", "page")]


def test_altered_or_cut_links_are_refused(client, clean_raw, settings):
    path = _path(settings)
    other_person = path.replace("p=p_unsub", "p=p_someone_else")
    assert client.post(other_person).status_code == 400
    assert client.get(other_person).status_code == 400
    assert client.post(path.split("&t=")[0]).status_code == 400
    assert _count(clean_raw) == 0


def test_activation_emails_carry_a_link_this_endpoint_accepts(client, clean_raw, settings):
    from activation.render import unsubscribe_url as email_unsubscribe_url

    parts = urlsplit(email_unsubscribe_url(settings, "p_from_email", "product_tips"))
    assert client.post(f"{parts.path}?{parts.query}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert clean_raw.execute("select method from raw.unsubscribe").fetchone() == ("one_click",)


@pytest.mark.slow
def test_an_unsubscribe_suppresses_the_person_after_the_next_cycle(server_url, settings, tmp_path):
    from tests.dbt_helpers import build, ingest_client, private_database, rows, send_resend

    with private_database(server_url) as url, ingest_client(settings, url) as client:
        for person, email in (("p_stays", "stays@example.org"), ("p_leaves", "leaves@example.org")):
            send_resend(client, {"type": "email.delivered", "created_at": "2026-11-20T10:00:00Z", "data": {
                "email_id": f"em_{person}", "to": [email], "subject": "Tips",
                "tags": {"person_id": person, "campaign_id": "product_tips", "funnel": "newsletter"}}},
                svix_id=f"msg_{person}")
        assert client.post(_path(settings, "p_leaves", "product_tips"),
                           data={"List-Unsubscribe": "One-Click"}).status_code == 200

        build(url, tmp_path)

        eligibility = {r["email"]: r for r in rows(
            url, "select email, is_contactable, suppression_reason from analytics.contact_eligibility")}
        assert eligibility["leaves@example.org"]["suppression_reason"] == "unsubscribed"
        assert eligibility["leaves@example.org"]["is_contactable"] is False
        assert eligibility["stays@example.org"]["is_contactable"] is True
        capture = rows(url, "select missing_rows, event_rows from analytics.capture_completeness "
                            "where raw_table = 'unsubscribe'")
        assert capture == [{"missing_rows": 0, "event_rows": 1}]
