"""The generic enter/exit webhook channel: Standard Webhooks signatures (checked with the
official `svix` library), the outbox's exactly-once keys and retries, and a crash between
the call and the commit, against a local receiver."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from svix.webhooks import Webhook, WebhookVerificationError

from activation.runner import ActivationError, activate
from gdp.settings import REPO_ROOT
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_segment,
    add_transition,
    db,
    make_settings,
    query,
)
from tests.fakes.webhook_receiver import FakeWebhookReceiver

SECRET = "whsec_" + base64.b64encode(b"a test signing key of 32 bytes!!").decode()
SEGMENT = "checkout_started_no_purchase_4h"
HOOK = {"channel": "webhook", "url_env": "GDP_WEBHOOK_CRM_URL", "secret_env": "GDP_WEBHOOK_CRM_SECRET"}


@pytest.fixture
def receiver(monkeypatch):
    fake = FakeWebhookReceiver(SECRET).start()
    monkeypatch.setenv("GDP_WEBHOOK_CRM_URL", fake.url + "/hooks/gdp")
    monkeypatch.setenv("GDP_WEBHOOK_CRM_SECRET", SECRET)
    yield fake
    fake.hold.set()
    fake.stop()


def _run(db, tmp_path, **overrides):
    return activate(db, settings=make_settings(tmp_path, **overrides), channels=["webhooks"])


def test_enter_and_exit_each_post_one_signed_event_that_svix_verifies(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK, {"channel": "email", "template": "quick_fix"}])
    entered = add_transition(db, SEGMENT, "p1", "entered", cycle="c1")
    exited = add_transition(db, SEGMENT, "p2", "exited", cycle="c1")

    report = _run(db, tmp_path)
    assert report.total("webhooks", "sent") == 2

    assert len(receiver.requests) == 2 and receiver.rejected == []
    for request in receiver.requests:
        Webhook(SECRET).verify(request["body"], request["headers"])  # raises when the signature is wrong
        assert request["headers"]["webhook-signature"].startswith("v1,")
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + base64.b64encode(b"another key, not the endpoint's").decode()).verify(
                request["body"], request["headers"])
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(request["body"].replace(b"p1", b"p3").replace(b"p2", b"p3"), request["headers"])
    events = {e["event"]["data"]["person_id"]: e for e in receiver.processed}
    assert events["p1"]["event"]["type"] == "segment.entered" and events["p2"]["event"]["type"] == "segment.exited"
    data = events["p1"]["event"]["data"]
    assert data["segment"] == SEGMENT and data["funnel"] == "newsletter" and data["transition_id"] == entered
    assert data["cycle_id"] == "c1" and data["qualified_at"]
    assert events["p1"]["id"] == f"{SEGMENT}:p1:{entered}:webhook_GDP_WEBHOOK_CRM_URL:0"
    assert events["p2"]["id"] == f"{SEGMENT}:p2:{exited}:webhook_GDP_WEBHOOK_CRM_URL:0"
    assert "@" not in json.dumps([r["body"].decode() for r in receiver.requests])  # no contact data

    assert query(db, "select status, attempts from activation.outbox where channel = 'webhook' order by outbox_id") == [
        ("sent", 1), ("sent", 1)]
    _run(db, tmp_path)
    assert len(receiver.requests) == 2  # nothing new to send


def test_429_with_retry_after_then_sent_once(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    receiver.cue(429, retry_after="0")

    assert _run(db, tmp_path).total("webhooks", "sent") == 1
    assert len(receiver.requests) == 2 and len(receiver.processed) == 1
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] and first["body"] == second["body"]


def test_5xx_is_rescheduled_then_dead_and_400_fails_with_the_reason(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    receiver.cue(503, times=3)
    first = _run(db, tmp_path, activation_max_attempts=2)
    assert first.total("webhooks", "retry_scheduled") == 1
    (row,) = query(db, "select status, attempts, next_attempt_at > now(), error from activation.outbox")
    assert row[:3] == ("pending", 1, True) and row[3].startswith("webhook 503")

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update activation.outbox set next_attempt_at = now()")
    receiver.cue(500, times=3)
    assert _run(db, tmp_path, activation_max_attempts=2).total("webhooks", "dead") == 1
    assert query(db, "select status from activation.outbox") == [("dead",)]
    assert receiver.processed == []

    add_transition(db, SEGMENT, "p2")
    receiver.cue(400, body=b'{"error":"unknown segment"}')
    assert _run(db, tmp_path).total("webhooks", "failed") == 1
    assert query(db, "select status, error from activation.outbox where person_id = 'p2'") == [
        ("failed", 'webhook 400 http_error: {"error":"unknown segment"}')]


@pytest.mark.parametrize("unset", ["GDP_WEBHOOK_CRM_URL", "GDP_WEBHOOK_CRM_SECRET"])
def test_an_unset_variable_stops_the_channel_naming_it_and_the_webhook_waits(db, receiver, tmp_path, monkeypatch, unset):
    """As every channel without its key: no dry-run in a real run, nothing sent, the row kept for the next run."""
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    value = os.environ[unset]
    monkeypatch.delenv(unset)
    with pytest.raises(ActivationError) as stopped:
        _run(db, tmp_path)
    assert str(stopped.value).startswith(f"webhooks: {unset} is not set: 1 webhook(s) naming it wait in the outbox")
    assert query(db, "select status, attempts, error from activation.outbox") == [("pending", 0, None)]
    assert receiver.requests == [] and not (tmp_path / "outbox-preview").exists()

    monkeypatch.setenv(unset, value)
    assert _run(db, tmp_path).total("webhooks", "sent") == 1
    assert [p["event"]["data"]["person_id"] for p in receiver.processed] == ["p1"]


def test_an_unset_destination_names_every_missing_variable_and_the_set_one_is_still_sent(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK, {"channel": "webhook", "url_env": "GDP_WEBHOOK_ERP_URL",
                                     "secret_env": "GDP_WEBHOOK_ERP_SECRET"}])
    add_transition(db, SEGMENT, "p1")
    with pytest.raises(ActivationError) as stopped:
        _run(db, tmp_path)
    assert "GDP_WEBHOOK_ERP_SECRET: 1 webhook(s)" in str(stopped.value)
    assert "GDP_WEBHOOK_ERP_URL: 1 webhook(s)" in str(stopped.value)
    assert stopped.value.report.total("webhooks", "sent") == 1 and len(receiver.processed) == 1
    assert query(db, "select action->>'url_env', status from activation.outbox order by 1") == [
        ("GDP_WEBHOOK_CRM_URL", "sent"), ("GDP_WEBHOOK_ERP_URL", "pending")]


def test_dry_run_previews_with_variables_unset_and_a_keyed_run_sends_what_it_previewed(db, receiver, tmp_path, monkeypatch):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    monkeypatch.delenv("GDP_WEBHOOK_CRM_URL")
    report = activate(db, settings=make_settings(tmp_path), channels=["webhooks"], dry_run=True)
    assert report.total("webhooks", "dry_run") == 1
    preview = [json.loads(line) for line in (tmp_path / "outbox-preview" / "webhooks.jsonl").read_text().splitlines()]
    assert preview[-1]["body"]["data"]["person_id"] == "p1"

    monkeypatch.setenv("GDP_WEBHOOK_CRM_URL", receiver.url + "/hooks/gdp")
    assert _run(db, tmp_path).total("webhooks", "sent") == 1
    assert query(db, "select status from activation.outbox") == [("sent",)]
    assert [p["event"]["data"]["person_id"] for p in receiver.processed] == ["p1"]


def test_a_malformed_secret_fails_the_webhook_and_never_sends_unsigned(db, receiver, tmp_path, monkeypatch):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    monkeypatch.setenv("GDP_WEBHOOK_CRM_SECRET", "not-a-whsec-secret")
    assert _run(db, tmp_path).total("webhooks", "failed") == 1
    assert "not a Standard Webhooks secret" in query(db, "select error from activation.outbox where person_id = 'p1'")[0][0]
    assert receiver.requests == []


def test_a_variable_outside_gdp_webhook_is_refused(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [{"channel": "webhook", "url_env": "GDP_WEBHOOK_CRM_URL", "secret_env": "RESEND_API_KEY"}])
    add_transition(db, SEGMENT, "p1")
    _run(db, tmp_path)
    (error,) = query(db, "select error from activation.outbox where status = 'failed'")[0]
    assert "must be GDP_WEBHOOK_<NAME>" in error and receiver.requests == []


def test_held_transitions_post_nothing(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1", held=True)
    _run(db, tmp_path)
    assert query(db, "select status from activation.outbox") == [("held",)] and receiver.requests == []


@pytest.mark.slow
def test_killed_between_the_call_and_the_commit_the_receiver_processes_it_once(db, receiver, tmp_path):
    add_segment(db, SEGMENT, [HOOK])
    add_transition(db, SEGMENT, "p1")
    receiver.hold.clear()  # the receiver processes the event, then keeps the sender waiting for its answer
    env = dict(os.environ, DATABASE_URL=db, GDP_DBT_SCHEMA=SCHEMA, GDP_DATA_DIR=str(tmp_path), GDP_PROVIDER_BACKOFF_S="0.01")
    proc = subprocess.Popen([sys.executable, "-m", "activation", "webhooks"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert receiver.received.wait(60), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no request"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    receiver.hold.set()
    assert proc.returncode == -signal.SIGKILL
    assert len(receiver.processed) == 1
    # The killed worker's claim was rolled back with its connection: still pending, same key.
    deadline = time.monotonic() + 15
    while query(db, "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
                    " and backend_type = 'client backend'")[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert query(db, "select status, attempts from activation.outbox") == [("pending", 0)]

    assert _run(db, tmp_path).total("webhooks", "sent") == 1
    assert query(db, "select status from activation.outbox") == [("sent",)]
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] and first["body"] == second["body"]
    for request in receiver.requests:
        Webhook(SECRET).verify(request["body"], request["headers"])
    assert len(receiver.processed) == 1 and receiver.rejected == []


def _project_with_webhook(dest, url_env: str):
    """The dbt project as an analyst's branch would have it: `won` gains a webhook activation."""
    import shutil

    for name in ("dbt_project.yml", "profiles.yml", "selectors.yml"):
        shutil.copy(REPO_ROOT / name, dest / name)
    for folder in ("models", "macros", "seeds", "tests/dbt"):
        shutil.copytree(REPO_ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = dest / "models" / "segments" / "outbound" / "won.yml"
    text = path.read_text()
    old = "            - {channel: outbound, sequence: onboarding_upsell}\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, old + f"            - {{channel: webhook, url_env: {url_env}, secret_env: GDP_WEBHOOK_CRM_SECRET}}\n"))
    return dest


@pytest.mark.slow
def test_a_webhook_in_a_segments_yaml_reaches_the_receiver_and_a_bad_variable_fails_the_build(server_url, receiver, tmp_path, monkeypatch):
    """Real dbt: the `segment` model carries the webhook activation, or refuses a variable outside GDP_WEBHOOK_*."""
    import gdp.dbt
    from activation.outbox import ActivationReport, Run
    from activation.plan import plan_transitions
    from activation.runner import dry_run_channels
    from gdp.dbt import run_dbt
    from gdp.settings import Settings
    from tests.dbt_helpers import private_database

    with private_database(server_url) as url:
        (tmp_path / "bad").mkdir()
        bad = _project_with_webhook(tmp_path / "bad", "DATABASE_URL")
        monkeypatch.setattr(gdp.dbt, "REPO_ROOT", bad)
        failed = run_dbt(["run", "--select", "segment"], url, target_path=tmp_path / "target_bad", settings=Settings())
        assert not failed.ok
        assert "activations[2].url_env must name a GDP_WEBHOOK_<NAME> variable, got DATABASE_URL" in failed.output

        (tmp_path / "good").mkdir()
        good = _project_with_webhook(tmp_path / "good", "GDP_WEBHOOK_CRM_URL")
        monkeypatch.setattr(gdp.dbt, "REPO_ROOT", good)
        built = run_dbt(["run", "--select", "segment", "stg_ledger__membership_transitions", "activation_holdout"], url, target_path=tmp_path / "target_good", settings=Settings())
        assert built.ok, built.output[-3000:]
        with psycopg.connect(url, autocommit=True) as conn:
            (activations,) = conn.execute("select activations from analytics.segment where segment = 'won'").fetchone()
            assert {"channel": "webhook", "url_env": "GDP_WEBHOOK_CRM_URL", "secret_env": "GDP_WEBHOOK_CRM_SECRET"} in activations
            conn.execute("insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at)"
                         " values ('c1', 'won', 'p_won', 'entered', now())")
        settings = make_settings(tmp_path, dbt_schema="analytics")
        plan_transitions(Run(url, settings, ActivationReport(), dry_run_channels(settings, None)))
        assert activate(url, settings=settings, channels=["webhooks"]).total("webhooks", "sent") == 1
    (event,) = receiver.processed
    assert event["event"]["type"] == "segment.entered" and event["event"]["data"]["person_id"] == "p_won"
    Webhook(SECRET).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])
