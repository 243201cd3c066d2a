"""The refresh_and_activate job in process against a real database, end to end:
signed webhooks → raw → dbt (event, person_features, segments) → ledger → outbox →
a fake Resend over HTTP. Then the blast-radius guard: a held cycle sends nothing.

One dbt build per test module run keeps it to seconds, not minutes: the second run
(exactly-once) and the held cycle execute the ledger and activation only.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance

from gdp.settings import get_settings
from orchestration.assets import LEDGER_KEY
from orchestration.cycle_plan import state_dir
from orchestration.dbt_assets import cycle_state_target
from orchestration.definitions import build_definitions
from orchestration.jobs import REFRESH_AND_ACTIVATE
from orchestration.resources import FakeNotifierResource, MetaResource, PostgresResource, ResendResource
from tests.dbt_helpers import ingest_client, private_database, send_resend
from tests.fakes.meta_api import FakeMeta
from tests.fakes.resend_api import FakeResend

pytestmark = pytest.mark.slow

SEGMENT = "newsletter_clicker_not_signed_up"
CLICKER, CLICKER_EMAIL = "p_e2e_clicker", "clicker@e2e.example"
ACTIVATIONS = ["resend_emails", "meta_capi_events", "meta_audiences", "outbound_sequences"]


def resend_payload(event_type: str, person: str, email: str, email_id: str) -> dict:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    data = {
        "email_id": email_id,
        "created_at": now,
        "from": "Growth <hello@example.com>",
        "to": [email],
        "subject": "This week in growth",
        "tags": {"person_id": person, "campaign_id": "weekly_digest", "funnel": "newsletter"},
    }
    if event_type == "email.clicked":
        data["click"] = {"ipAddress": "203.0.113.9", "link": "https://example.com/blog", "timestamp": now,
                         "userAgent": "Mozilla/5.0"}
    return {"type": event_type, "created_at": now, "data": data}


def land_newsletter_click(client, person: str, email: str) -> None:
    email_id = f"em_{uuid.uuid4().hex[:12]}"
    for event_type in ("email.delivered", "email.clicked"):
        send_resend(client, resend_payload(event_type, person, email, email_id), f"msg_{uuid.uuid4().hex}")


@pytest.fixture(scope="module")
def world(server_url, settings, tmp_path_factory):
    with private_database(server_url) as url, ingest_client(settings, url) as client:
        fake = FakeResend(api_key="re_e2e_key").start()
        meta = FakeMeta().start()
        notifier = FakeNotifierResource(sink_path=str(tmp_path_factory.mktemp("notify") / "sent.txt"))
        defs = build_definitions(
            resources={
                "postgres": PostgresResource(database_url=url),
                "resend": ResendResource(api_key=fake.api_key, api_base=fake.url),
                # A real run needs every provider that has work; Meta's is a local fake too.
                "meta": MetaResource(access_token=meta.access_token, pixel_id=meta.pixel_id, graph_base=meta.url),
                "notifier": notifier,
            }
        )
        # One full run (the only dbt build of the module): every test starts from built relations.
        land_newsletter_click(client, CLICKER, CLICKER_EMAIL)
        instance = DagsterInstance.ephemeral()
        first = defs.resolve_job_def(REFRESH_AND_ACTIVATE).execute_in_process(instance=instance, raise_on_error=False)
        try:
            yield {"url": url, "client": client, "fake": fake, "defs": defs, "notifier": notifier,
                   "first": first, "instance": instance}
        finally:
            instance.dispose()
            fake.stop()
            meta.stop()


def outbox(url: str, person: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "select segment, channel, status, qualified_at is not null, sent_at is not null, cycle_id"
            " from activation.outbox where person_id = %s order by outbox_id",
            (person,),
        ).fetchall()


def test_job_runs_raw_to_event_to_segment_to_outbox_and_sends_once(world):
    url, fake, defs = world["url"], world["fake"], world["defs"]
    person, email = CLICKER, CLICKER_EMAIL

    job = defs.resolve_job_def(REFRESH_AND_ACTIVATE)
    instance, result = world["instance"], world["first"]
    # The module's first run, made by the fixture.
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {AssetKey("event"), AssetKey(SEGMENT), LEDGER_KEY, *(AssetKey(a) for a in ACTIVATIONS)} <= materialized
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("event", "assert_every_raw_row_captured")] is True
    assert checks[("int_identity__quarantine", "assert_identity_quarantine_under_limit")] is True
    assert checks[("membership_ledger", "blast_radius_guard")] is True
    assert checks[("raw/resend_event", "freshness")] is True  # rows just landed
    assert ("meta_capi_events", "meta_match_quality") in checks

    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(
            "select count(*) from analytics.event where person_id = %s and event_type = 'email_clicked'", (person,)
        ).fetchone()[0] == 1
        assert conn.execute(
            "select count(*) from analytics.segment_member where segment = %s and person_id = %s", (SEGMENT, person)
        ).fetchone()[0] == 1
        assert conn.execute(
            "select transition from activation.membership_transition where segment = %s and person_id = %s",
            (SEGMENT, person),
        ).fetchall() == [("entered",)]

    rows = [r for r in outbox(url, person) if r[0] == SEGMENT and r[1] == "email"]
    assert rows and rows[0][2] == "sent" and rows[0][3] and rows[0][4] and rows[0][5] == result.run_id
    to_person = [d for d in fake.delivered if email in (d["email"].get("to") or [])]
    assert len(to_person) == 1
    tags = {t["name"]: t["value"] for t in to_person[0]["email"]["tags"]}
    assert tags["person_id"] == person and tags["funnel"] == "newsletter"

    ledger_events = instance.get_latest_materialization_event(LEDGER_KEY)
    assert ledger_events.asset_materialization.metadata["entered"].value >= 1
    resend_meta = instance.get_latest_materialization_event(AssetKey("resend_emails")).asset_materialization.metadata
    assert "latency_email_cycle_p95_s" in resend_meta

    # The same data again: a new cycle, nothing new to send.
    again = job.execute_in_process(instance=instance, asset_selection=[LEDGER_KEY, *(AssetKey(a) for a in ACTIVATIONS)])
    assert again.success
    assert len([d for d in fake.delivered if email in (d["email"].get("to") or [])]) == 1


def test_later_runs_build_what_moved_and_still_reach_the_ledger_and_activation(world):
    """The sensor's run after the first builds what the cycle plan selects, as `gdp refresh`
    does: a new click rebuilds `event` and the segments, not what no moved source reaches;
    segments the plan leaves out are reported current (rebuilt: false), so the ledger and
    the activations still run and the new member gets one email. Once the run after it has
    taken in its sends, a run with nothing new rebuilds no `event` and sends nothing more."""
    url, client, fake, defs, instance = world["url"], world["client"], world["fake"], world["defs"], world["instance"]
    person, email = "p_e2e_planned", "planned@e2e.example"
    land_newsletter_click(client, person, email)
    job = defs.resolve_job_def(REFRESH_AND_ACTIVATE)

    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    materialized = {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}
    assert {"event", SEGMENT, "membership_ledger", *ACTIVATIONS} <= set(materialized)
    first = {e.asset_key for e in world["first"].get_asset_materialization_events()}
    assert len(materialized) < len(first)
    assert "stg_stripe__events" not in materialized  # a view over a source that did not move
    # `segment` (the definitions) did not change: reported current so the ledger runs
    assert materialized["segment"].metadata["rebuilt"].value is False
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(
            "select transition from activation.membership_transition where segment = %s and person_id = %s",
            (SEGMENT, person),
        ).fetchall() == [("entered",)]
    assert len([d for d in fake.delivered if email in (d["email"].get("to") or [])]) == 1

    # The sends are rows of a source: the next run takes them in; the one after has nothing new.
    assert job.execute_in_process(instance=instance, raise_on_error=False).success
    quiet = job.execute_in_process(instance=instance, raise_on_error=False)
    assert quiet.success
    materialized = {e.asset_key.to_user_string() for e in quiet.get_asset_materialization_events()}
    assert "event" not in materialized
    assert {"person_features", "membership_ledger", *ACTIVATIONS} <= materialized
    assert len([d for d in fake.delivered if email in (d["email"].get("to") or [])]) == 1


def test_blast_radius_hold_stops_the_runs_activation(world, monkeypatch):
    url, fake, defs = world["url"], world["fake"], world["defs"]
    person, email = "p_e2e_held", "held@e2e.example"
    # A new member as dbt would write it; the guard holds any cycle moving more than 0 persons.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into analytics.segment_member (segment, person_id, qualified_at, context)"
            " values (%s, %s, now(), '{}'::jsonb)",
            (SEGMENT, person),
        )
    monkeypatch.setenv("GDP_BLAST_RADIUS_MAX", "0")
    get_settings.cache_clear()
    try:
        job = defs.resolve_job_def(REFRESH_AND_ACTIVATE)
        with DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance, asset_selection=[LEDGER_KEY, *(AssetKey(a) for a in ACTIVATIONS)], raise_on_error=False
            )
            checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
            assert checks["blast_radius_guard"].passed is False
            assert SEGMENT in checks["blast_radius_guard"].description
            materialized = {e.asset_key for e in result.get_asset_materialization_events()}
            assert LEDGER_KEY in materialized
            assert not materialized & {AssetKey(a) for a in ACTIVATIONS}
    finally:
        monkeypatch.delenv("GDP_BLAST_RADIUS_MAX")
        get_settings.cache_clear()

    assert not [d for d in fake.delivered if email in (d["email"].get("to") or [])]
    assert not [r for r in outbox(url, person) if r[2] == "sent"]
    assert any("gdp segments approve" in text and SEGMENT in text for text in world["notifier"].sent)


def test_a_lost_raw_row_fails_the_dbt_guard_and_nothing_is_sent(world):
    """A row that committed later than the incremental lookback never reaches `event`:
    the dbt test assert_every_raw_row_captured (a check on `event`) fails the build, so the
    ledger and the activations of that run do not run, as in `gdp refresh`."""
    url, defs = world["url"], world["defs"]
    # Per cycle, a commit later than the lookback is the nightly full-history check's to catch
    # (the plan reads what arrived since the last cycle); a run without cycle state builds the
    # whole selection, whose guard this is.
    shutil.rmtree(state_dir(cycle_state_target(), url, get_settings().dbt_schema), ignore_errors=True)
    svix_id = f"msg_lost_{uuid.uuid4().hex}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.resend_event (svix_id, event_type, received_at, payload)"
            " values (%s, 'email.sent', now() - interval '1 day', '{}'::jsonb)",
            (svix_id,),
        )
    try:
        with DagsterInstance.ephemeral() as instance:
            result = defs.resolve_job_def(REFRESH_AND_ACTIVATE).execute_in_process(instance=instance, raise_on_error=False)
            assert not result.success
            checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
            assert checks[("event", "assert_every_raw_row_captured")] is False
            materialized = {e.asset_key for e in result.get_asset_materialization_events()}
            assert LEDGER_KEY not in materialized
            assert not materialized & {AssetKey(a) for a in ACTIVATIONS}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw.resend_event where svix_id = %s", (svix_id,))


def test_clock_cycle_rebuilds_only_the_time_based_segments_then_ledger_and_activation(world):
    """The 5-minute schedule's job on the built world: person_features and the clock-tagged
    segments are rebuilt by real dbt, the ledger and activation run; a raw row that landed
    meanwhile stays for the sensor's full cycle (no staging or event rebuild)."""
    from orchestration.jobs import CLOCK_CYCLE

    url, client, defs = world["url"], world["client"], world["defs"]
    land_newsletter_click(client, "p_e2e_clock", "clock@e2e.example")
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(CLOCK_CYCLE).execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"person_features", "new_signup_no_activation_24h", "membership_ledger", *ACTIVATIONS} <= materialized
    assert not {"event", "person", "stg_resend__events", "won"} & materialized
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("membership_ledger", "blast_radius_guard")] is True
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select count(*) from analytics.event where person_id = 'p_e2e_clock'").fetchone()[0] == 0
