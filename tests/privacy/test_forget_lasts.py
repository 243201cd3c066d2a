"""Forget lasts (issue 13, finding 6): rebuilds, activation, previews and the app account.

(a) an account still in auth.users does not bring the person back on any rebuild;
(b) a tombstone stops activation even for a transition already planned;
(c) the segment-preview schema loses the person's rows;
(e) with Supabase credentials the auth user is deleted through the admin API,
    without them forget says what remains.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

import psycopg
import pytest
from psycopg.rows import dict_row

from activation.outbox import ActivationReport, Run
from activation.plan import plan_transitions
from activation.runner import activate, dry_run_channels
from gdp.settings import Settings
from orchestration.cycle import run_cycle
from privacy.forget import ForgetError, forget
from tests.conftest import TEST_SECRETS
from tests.dbt_helpers import ingest_client, private_database
from tests.fakes.supabase_auth import FakeSupabaseAuth
from tests.privacy.test_forget import _send_person

ADA, BOB = "ada.lasts@example.org", "bob.lasts@example.net"
KEY = "service_role_test_key"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- (c) the preview schema ----------------------------------------------------------


def test_forget_clears_the_segment_preview_schema(database_url, settings, clean_raw):
    conn = clean_raw
    conn.execute("create schema if not exists analytics_preview")
    conn.execute("drop table if exists analytics_preview.lost_retarget")
    conn.execute("create table analytics_preview.lost_retarget (person_id text, email text)")
    conn.execute("insert into analytics_preview.lost_retarget values ('p_ada', %s), ('p_bob', %s)", (ADA.upper(), BOB))
    try:
        report = forget(database_url, ADA, settings=settings)
        left = conn.execute("select email from analytics_preview.lost_retarget order by 1").fetchall()
    finally:
        conn.execute("drop table analytics_preview.lost_retarget")
    assert left == [(BOB,)]
    assert report.deleted["analytics_preview.lost_retarget"] == 1


# --- (e) the Supabase auth user ------------------------------------------------------


@pytest.fixture
def app_user(database_url, clean_raw):
    """Ada has an app account (auth.users); the fake GoTrue knows it and removes the row on delete, as Supabase does."""
    user_id = str(uuid.uuid4())
    clean_raw.execute("delete from auth.users where lower(email) in (%s, %s)", (ADA, BOB))
    clean_raw.execute("insert into auth.users (id, email, created_at) values (%s, %s, now())", (user_id, ADA))

    def remove(uid: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as c:
            c.execute("delete from auth.users where id = %s", (uid,))

    fake = FakeSupabaseAuth(KEY, on_delete=remove).start()
    fake.users.add(user_id)
    yield user_id, fake
    fake.stop()
    clean_raw.execute("delete from auth.users where id = %s", (user_id,))


def _with_supabase(settings, fake):
    return replace(settings, supabase_url=fake.url, supabase_service_role_key=KEY, provider_backoff_s=0.01)


def _accounts(conn, user_id: str) -> int:
    return conn.execute("select count(*) from auth.users where id = %s", (user_id,)).fetchone()[0]


def test_forget_deletes_the_supabase_auth_user_through_the_admin_api(database_url, settings, app_user, clean_raw):
    user_id, fake = app_user
    fake.cue(429, retry_after="0")
    fake.cue(503)
    report = forget(database_url, ADA, settings=_with_supabase(settings, fake))
    deletes = [r for r in fake.requests if r["method"] == "DELETE"]
    assert len(deletes) == 3, "a 429 and a 503 are retried"
    assert {r["path"] for r in deletes} == {f"/auth/v1/admin/users/{user_id}"}
    assert deletes[-1]["headers"]["apikey"] == KEY and deletes[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert _accounts(clean_raw, user_id) == 0 and user_id not in fake.users
    assert report.auth_users_deleted == 1
    assert not any("auth.users" in w for w in report.warnings), report.warnings
    assert "deleted 1 Supabase auth user" in report.summary()
    assert KEY not in report.summary()


def test_an_auth_user_already_gone_is_not_an_error(database_url, settings, app_user, clean_raw):
    user_id, fake = app_user
    fake.users.discard(user_id)  # deleted in Supabase; the local row is a stale copy
    report = forget(database_url, ADA, settings=_with_supabase(settings, fake))
    assert [r["path"] for r in fake.requests] == [f"/auth/v1/admin/users/{user_id}"]
    assert report.auth_users_deleted == 1 and report.tombstones >= 1


def test_a_failing_admin_api_leaves_the_person_present_and_forget_can_run_again(database_url, settings, app_user, clean_raw):
    user_id, fake = app_user
    clean_raw.execute("insert into raw.lead (email, name, payload) values (%s, 'Ada', '{}')", (ADA,))
    fake.cue(500, times=10)
    with pytest.raises(ForgetError, match="Supabase") as failure:
        forget(database_url, ADA, settings=_with_supabase(settings, fake))
    assert KEY not in str(failure.value)
    assert clean_raw.execute("select count(*) from raw.lead where email = %s", (ADA,)).fetchone()[0] == 1
    assert clean_raw.execute("select count(*) from raw.forgotten_identifier where identifier_hash = %s",
                             (sha(ADA),)).fetchone()[0] == 0
    fake.cues.clear()
    report = forget(database_url, ADA, settings=_with_supabase(settings, fake))
    assert report.auth_users_deleted == 1 and report.deleted["raw.lead"] == 1
    assert _accounts(clean_raw, user_id) == 0


def test_without_supabase_settings_forget_says_what_remains(database_url, settings, app_user, clean_raw):
    user_id, fake = app_user
    report = forget(database_url, ADA, settings=settings)
    assert fake.requests == []
    assert _accounts(clean_raw, user_id) == 1
    text = report.summary()
    assert "auth.users still holds 1 account" in text
    assert "SUPABASE_URL" in text and "SUPABASE_SERVICE_ROLE_KEY" in text
    assert "excluded from person, contact_eligibility and activation" in text and "account still exists" in text


# --- (a) and (b): rebuilds and activation --------------------------------------------


def _rows(url: str, query: str, params=()) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def built(server_url, tmp_path_factory):
    """Ada (with an app account) and Bob, through the real endpoints, one dbt cycle, transitions not yet planned."""
    tmp = tmp_path_factory.mktemp("forget_lasts")
    settings = Settings(data_dir=tmp, email_cap_per_day=5, email_cap_per_week=10, **TEST_SECRETS)
    with private_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email, created_at) values (%s, %s, now() - interval '2 days')",
                         (str(uuid.uuid4()), ADA))
        with ingest_client(settings, url) as client:
            _send_person(client, ADA, "adalasts")
            _send_person(client, BOB, "boblasts")
        cycle = run_cycle(url, target_path=tmp / "target", settings=settings)
        assert cycle.ok, cycle.summary()
        yield url, settings, tmp


def _person_ids(url: str, email: str) -> set[str]:
    return {r["person_id"] for r in _rows(url, "select person_id from analytics.identity_link where identifier_value = %s", (email,))}


@pytest.mark.slow
def test_a_tombstone_stops_activation_of_transitions_already_planned(built):
    url, settings, _ = built
    run = Run(url=url, settings=settings, report=ActivationReport(), dry_run=dry_run_channels(settings, True))
    assert plan_transitions(run) > 0
    bob_ids = sorted(_person_ids(url, BOB))
    outbox = "select outbox_id, channel, status, error from activation.outbox where person_id = any(%s)"
    before = {r["outbox_id"]: r for r in _rows(url, outbox, (bob_ids,))}
    assert any(r["status"] == "pending" for r in before.values()), "Bob has actions waiting"
    # A tombstone lands after planning (a forget of an identifier dbt had not linked yet, say).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into raw.forgotten_identifier (identifier_hash, identifier_type, request_id) values (%s, 'email', 't')",
                     (sha(BOB),))
    activate(url, settings=settings, dry_run=True)
    after = {r["outbox_id"]: r for r in _rows(url, outbox, (bob_ids,))}
    for outbox_id, row in after.items():
        if outbox_id not in before:
            assert row["status"] not in ("pending", "sent", "dry_run"), row
        elif before[outbox_id]["status"] == "pending":
            assert row["status"] == "skipped_suppressed" and row["error"].startswith("forgotten"), row
        else:
            assert row == before[outbox_id]
    running = _rows(url, "select count(*) as n from activation.sequence_enrollment where person_id = any(%s) and status = 'active'",
                    (bob_ids,))
    assert running[0]["n"] == 0, "Bob's sequences are stopped"
    assert _rows(url, "select count(*) as n from activation.email_send where lower(email) = %s", (BOB,))[0]["n"] == 0
    ada = _rows(url, "select status from activation.outbox where person_id = any(%s)", (sorted(_person_ids(url, ADA)),))
    assert any(r["status"] == "dry_run" for r in ada), "activation still works for everyone else"


@pytest.mark.slow
def test_an_account_still_in_auth_users_does_not_bring_the_person_back(built):
    url, settings, tmp = built
    report = forget(url, ADA, settings=settings)
    assert any("auth.users still holds 1 account" in w for w in report.warnings)
    assert _rows(url, "select count(*) as n from auth.users where email = %s", (ADA,))[0]["n"] == 1
    for full_refresh in (False, True):
        cycle = run_cycle(url, target_path=tmp / "target", settings=settings, full_refresh=full_refresh)
        assert cycle.ok, cycle.summary()
        back = _person_ids(url, ADA)
        if full_refresh:
            # A rebuild from raw resolves the account again (auth.users still holds it): the rule must exclude it
            # downstream. A planned cycle with nothing new leaves identity as forget left it (rows deleted).
            assert back, "identity still resolves the account (the rule excludes it downstream)"
        for relation in ("person", "contact_eligibility", "activation_recipient", "person_features"):
            found = _rows(url, f"select count(*) as n from analytics.{relation} where person_id = any(%s)", (sorted(back),))
            assert found[0]["n"] == 0, (relation, full_refresh)
        assert _rows(url, "select count(*) as n from analytics.person where email = %s", (ADA,))[0]["n"] == 0
        forgotten = _rows(url, "select person_id from analytics.int_privacy__forgotten_persons")
        assert back <= {r["person_id"] for r in forgotten}
    activate(url, settings=settings, dry_run=True)
    sent = _rows(url, "select count(*) as n from activation.outbox where person_id = any(%s) and status in ('sent', 'dry_run')",
                 (sorted(_person_ids(url, ADA)),))
    assert sent[0]["n"] == 0
