"""Crash test: `python -m activation` SIGKILLed at random points 20 times, then run to the end.

1,000 pending email actions; a fake Resend that deduplicates by Idempotency-Key
as Resend does (24 h) and also records every raw attempt. Incarnations alternate
between single sends and batches of 10, so both paths are killed mid-flight.
Afterwards each outbox key's email was delivered exactly once and none is
missing, and the database agrees with what the provider accepted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from activation.outbox import ActivationReport, Run
from activation.plan import plan_transitions
from activation.runner import dry_run_channels
from gdp.settings import REPO_ROOT
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_people,
    add_segment,
    add_transitions,
    db,
    fake_resend,
    make_settings,
    query,
)

pytestmark = pytest.mark.slow

ACTIONS = 1000
KILLS = 20


def test_sigkill_twenty_times_then_every_email_exactly_once(db, fake_resend, tmp_path):
    add_segment(db, "new_signup_no_activation_24h", [{"channel": "email", "template": "one_minute_setup"}])
    add_transitions(db, "new_signup_no_activation_24h", add_people(db, ACTIONS))
    settings = make_settings(tmp_path, resend=fake_resend)
    plan_transitions(Run(db, settings, ActivationReport(), dry_run_channels(settings, None)))
    assert query(db, "select count(*) from activation.outbox where status = 'pending'") == [(ACTIONS,)]
    fake_resend.latency_s = 0.01
    rng = random.Random(20261125)

    def spawn(batch_size: int) -> subprocess.Popen:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": db, "GDP_DBT_SCHEMA": SCHEMA, "GDP_DATA_DIR": str(tmp_path),
            "RESEND_API_KEY": fake_resend.api_key, "RESEND_API_BASE": fake_resend.url,
            "RESEND_REQUESTS_PER_SECOND": "0", "RESEND_BATCH_SIZE": str(batch_size),
            "TRACKING_LINK_SECRET": settings.tracking_link_secret, "GDP_PUBLIC_BASE_URL": settings.public_base_url,
            "GDP_EMAIL_CAP_PER_DAY": "5", "GDP_PROVIDER_BACKOFF_S": "0.01",
        })
        return subprocess.Popen([sys.executable, "-m", "activation", "resend_emails"], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    kills = killed_mid_work = 0
    exits = []
    for i in range(KILLS):
        before = len(fake_resend.requests)
        proc = spawn(1 if i % 2 else 10)
        if i % 3 == 0:
            time.sleep(rng.uniform(0.2, 0.8))  # anywhere: start-up, planning, rendering, sending
        else:
            deadline = time.monotonic() + 10
            while len(fake_resend.requests) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))  # mid-send: between a request and its commit, or inside one
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if proc.returncode != -signal.SIGKILL:
            exits.append((i, proc.returncode, proc.stderr.read().decode()[-1500:]))
        pending = query(db, "select count(*) from activation.outbox where status = 'pending'")[0][0]
        killed_mid_work += pending > 0
        proc.stderr.close()

    delivered_while_killing = len(fake_resend.delivered)
    # A killed client's server backend ends (and drops its row locks) a moment after the kill;
    # the final run must not find rows still locked by a ghost and leave them for a later run.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and query(
        db, "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
            " and backend_type = 'client backend'")[0][0]:
        time.sleep(0.05)
    final = spawn(10)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()[-2000:]

    counts = fake_resend.deliveries_by_ref()
    expected = {k for (k,) in query(db, "select outbox_key from activation.outbox")}
    assert kills == KILLS and killed_mid_work == KILLS, f"{kills} kills, {killed_mid_work} with work left, ended alone: {exits}"
    assert set(counts) == expected, "an email is missing (or unknown)"
    duplicates = {k: n for k, n in counts.items() if n != 1}
    assert duplicates == {}, f"sent more than once: {list(duplicates.items())[:5]}"
    assert query(db, "select status, count(*) from activation.outbox group by 1") == [("sent", ACTIONS)]
    ids_in_db = {r[0] for r in query(db, "select resend_email_id from activation.email_send where status = 'sent'")}
    assert ids_in_db == {d["id"] for d in fake_resend.delivered}
    raw_attempts = sum(len(r["json"]) if r["path"] == "/emails/batch" else 1 for r in fake_resend.requests)
    print(f"\ncrash test: {kills} SIGKILLs, {len(fake_resend.requests)} requests, {raw_attempts} email attempts, "
          f"{fake_resend.idempotent_replays} idempotent replays, {delivered_while_killing} delivered before the final run, "
          f"{len(counts)} emails delivered once each")
