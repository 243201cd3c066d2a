"""`gdp outbox list|retry`: dead and failed rows by channel, segment and time, queued again
under their own keys, against a real database and the fake Resend."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner

from activation.runner import activate
from gdp.cli import main
from gdp.commands.outbox import parse_duration
from gdp.settings import get_settings
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_people,
    add_person,
    add_segment,
    add_transition,
    add_transitions,
    db,
    fake_resend,
    make_settings,
    query,
)

SEGMENT = "new_signup_no_activation_24h"


@pytest.fixture
def gdp(db, tmp_path, monkeypatch):
    """Run `gdp ...` against the test database; returns (exit code, output)."""
    monkeypatch.setenv("DATABASE_URL", db)
    monkeypatch.setenv("GDP_DBT_SCHEMA", SCHEMA)
    monkeypatch.setenv("GDP_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["outbox", *args])
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def _dead_email(db, fake_resend, settings, person="p1", email="a@example.org") -> None:
    """One email that hit 5xx until it was given up (max attempts 1)."""
    add_person(db, person, email)
    add_transition(db, SEGMENT, person)
    fake_resend.cue(500, times=3)
    activate(db, settings=settings, channels=["resend_emails"])


def _snapshot(db) -> list[tuple]:
    return query(db, "select outbox_id, status, attempts, next_attempt_at, error, updated_at, batch_key from activation.outbox order by 1")


def test_parse_duration_in_human_units():
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration("3 days") == timedelta(days=3)
    assert parse_duration("1 week") == timedelta(weeks=1)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    for bad in ("2", "h", "2 fortnights", "2h; drop table x", ""):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_list_filters_by_status_channel_segment_and_time(db, fake_resend, tmp_path, gdp):
    add_segment(db, SEGMENT, [{"channel": "email", "template": "one_minute_setup"}])
    settings = make_settings(tmp_path, resend=fake_resend, activation_max_attempts=1)
    _dead_email(db, fake_resend, settings)
    # A failed row from three days ago, of another channel and segment.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            """insert into activation.outbox (outbox_key, channel, status, segment, person_id, error, updated_at)
               values ('old:p9:1:meta_audience_add:0', 'meta_audience', 'failed', 'checkout_started_no_purchase_4h', 'p9',
                       'no Meta audience id for ''checkout_abandoners''', now() - interval '3 days')"""
        )

    code, out = gdp("list")
    assert code == 0, out
    assert "dead" in out and "resend 500" in out and "failed" in out and "no Meta audience id" in out
    assert "2 row(s): email dead 1, meta_audience failed 1" in out

    code, out = gdp("list", "--since", "2h")
    assert code == 0 and "p1" in out and "p9" not in out
    code, out = gdp("list", "--channel", "meta_audience")
    assert "p9" in out and "p1" not in out
    code, out = gdp("list", "--segment", SEGMENT, "--status", "dead")
    assert "p1" in out and "p9" not in out
    code, out = gdp("list", "--segment", "no_such_segment")
    assert code == 0 and "No dead or failed rows match." in out
    code, out = gdp("list", "--since", "two hours")
    assert code == 2 and "not a duration" in out


def test_retry_dry_run_changes_nothing_then_retry_sends_once(db, fake_resend, tmp_path, gdp):
    add_segment(db, SEGMENT, [{"channel": "email", "template": "one_minute_setup"}])
    settings = make_settings(tmp_path, resend=fake_resend, activation_max_attempts=1)
    _dead_email(db, fake_resend, settings)
    assert query(db, "select status from activation.outbox") == [("dead",)]
    before = _snapshot(db)

    code, out = gdp("retry", "--dry-run", "--since", "1h")
    assert code == 0, out
    assert "would be queued again; nothing changed" in out and "p1" in out
    assert _snapshot(db) == before

    code, out = gdp("retry", "--channel", "email")
    assert code == 0 and "1 row(s) queued again" in out
    (row,) = query(db, "select status, attempts, next_attempt_at <= now(), error from activation.outbox")
    assert row[:3] == ("pending", 0, True) and row[3].startswith("retried by operator at ") and "was dead: gave up" in row[3]

    activate(db, settings=settings, channels=["resend_emails"])
    assert query(db, "select status from activation.outbox") == [("sent",)]
    assert [d["ref"] for d in fake_resend.delivered] == [query(db, "select outbox_key from activation.outbox")[0][0]]
    code, out = gdp("retry")
    assert "nothing to retry" in out


def test_a_row_the_provider_accepted_before_its_answer_was_lost_is_not_sent_twice(db, fake_resend, tmp_path, gdp):
    add_segment(db, SEGMENT, [{"channel": "email", "template": "one_minute_setup"}])
    add_person(db, "p1", "a@example.org")
    add_transition(db, SEGMENT, "p1")
    settings = make_settings(tmp_path, resend=fake_resend)
    activate(db, settings=settings, channels=["resend_emails"])
    assert len(fake_resend.delivered) == 1
    first_id = fake_resend.delivered[0]["id"]
    # Resend accepted it, but the worker never learned: its answers were lost until it gave up.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update activation.outbox set status = 'dead', provider_id = null, sent_at = null,"
                     " error = 'gave up after 8 attempts: resend no answer ReadTimeout'")

    code, out = gdp("retry", "--status", "dead")
    assert code == 0, out
    activate(db, settings=settings, channels=["resend_emails"])

    assert len(fake_resend.delivered) == 1 and fake_resend.idempotent_replays == 1
    assert query(db, "select status, provider_id from activation.outbox") == [("sent", first_id)]


def test_a_batch_member_is_retried_with_its_whole_batch(db, fake_resend, tmp_path, gdp):
    add_segment(db, SEGMENT, [{"channel": "email", "template": "one_minute_setup"}])
    add_transitions(db, SEGMENT, add_people(db, 3))
    settings = make_settings(tmp_path, resend=fake_resend, resend_batch_size=10)
    activate(db, settings=settings, channels=["resend_emails"])
    assert len(fake_resend.delivered) == 3 and fake_resend.requests[-1]["path"] == "/emails/batch"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update activation.outbox set status = 'dead', error = 'answer lost'")
        conn.execute("update activation.outbox set updated_at = now() - interval '1 day' where person_id <> 'p00000'")

    code, out = gdp("retry", "--since", "1h")
    assert code == 0 and "3 row(s) queued again" in out  # one matched; its batch comes along
    activate(db, settings=settings, channels=["resend_emails"])

    assert fake_resend.deliveries_by_ref() == {k: 1 for (k,) in query(db, "select outbox_key from activation.outbox")}
    assert fake_resend.idempotent_replays == 1
    assert query(db, "select distinct status from activation.outbox") == [("sent",)]
