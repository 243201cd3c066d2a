"""Latency bench: a qualifying webhook's 2xx → the email reaching (fake) Resend.

Run: .venv/bin/python bench/bench_latency.py [--persons 100000] [--qualifiers 20]
     [--interval 5] [--sensor-interval N] [--coordinator queued|default] [--keep]

What it does, all on this machine:
1. A private database on the embedded server (`gdp_bench_latency`), migrated, with
   `--persons` people already known (one tagged newsletter email each, loaded in bulk
   SQL), then one full dbt build and a baseline ledger cycle + dry-run activation,
   so the measured runs are incremental cycles over 100k persons.
2. The real ingest app over HTTP, a fake Resend (tests/fakes/resend_api.py, real
   HTTP, Resend's wire format and its 2 requests/s limit), and `dagster-daemon` on
   `orchestration.definitions` with RESEND_API_BASE pointing at the fake, on the
   dagster.yaml `gdp dagster` writes (Postgres storage, its run coordinator): the
   sensor launches refresh_and_activate when rows land, as in production.
3. Every `--interval` seconds one seeded person clicks a newsletter link (a signed
   Resend `email.clicked` webhook) — they qualify for `newsletter_clicker_not_signed_up`,
   whose activation is an email. The clock starts at the webhook's 2xx and stops when
   the fake Resend has accepted an email to that person.
4. Prints p50/p95/max, the sensor interval used, `gdp latency`'s figures from the
   outbox (qualification → send) and its stage breakdown from the database and the
   daemon's run records (landing, trigger, launch, dbt, ledger, activation).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from gdp import db as gdb  # noqa: E402
from gdp.commands.dagster import RUN_COORDINATORS, prepare_home, sqlalchemy_url  # noqa: E402
from gdp.migrate import apply_migrations  # noqa: E402
from gdp.settings import Settings  # noqa: E402
from tests.conftest import TEST_SECRETS  # noqa: E402
from tests.fakes.resend_api import FakeResend  # noqa: E402
from tools.simulate.deliveries import resend_delivery  # noqa: E402

DB_NAME = "gdp_bench_latency"
RESEND_SECRET = TEST_SECRETS["resend_webhook_secret"]
SEGMENT = "newsletter_clicker_not_signed_up"

SEED_SQL = """
insert into raw.resend_event (svix_id, event_type, received_at, payload)
select
    'bench_seed_' || i,
    'email.delivered',
    now() - interval '2 days',
    jsonb_build_object(
        'type', 'email.delivered',
        'created_at', to_char(now() - interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'data', jsonb_build_object(
            'email_id', 'em_seed_' || i,
            'created_at', to_char(now() - interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'from', 'Growth <hello@example.com>',
            'to', jsonb_build_array('person' || i || '@bench.example'),
            'subject', 'This week in growth',
            'tags', jsonb_build_object('person_id', 'p_bench_' || i, 'campaign_id', 'weekly_digest', 'funnel', 'newsletter')
        )
    )
from generate_series(1, %s) as i
on conflict do nothing
"""


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def prepare_database(server_url: str, persons: int, keep: bool) -> str:
    if not keep:
        gdb.drop_database(server_url, DB_NAME)
    url = gdb.create_database(server_url, DB_NAME)
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        (have,) = conn.execute("select count(*) from raw.resend_event where svix_id like 'bench_seed_%%'").fetchone()
        if have < persons:
            log(f"seeding {persons} persons (bulk SQL)")
            conn.execute(SEED_SQL, (persons,))
    return url


def baseline_cycle(url: str) -> None:
    """The cycle's dbt build + ledger + dry-run activation, so measured cycles start settled."""
    from activation.runner import activate
    from gdp.dbt import cycle_build_args, run_dbt
    from ledger.membership import record_cycle

    started = time.monotonic()
    result = run_dbt(cycle_build_args(), url, target_path=Path(tempfile.mkdtemp(prefix="bench_latency_dbt_")))
    if not result.ok:
        raise SystemExit("baseline dbt build failed:\n" + "\n".join(result.failures) + result.output[-3000:])
    log(f"baseline dbt build: {time.monotonic() - started:.1f}s")
    record_cycle(url, f"bench-baseline-{uuid.uuid4().hex[:8]}")
    activate(url, dry_run=True)


def start_ingest(url: str, port: int) -> threading.Thread:
    from werkzeug.serving import make_server

    from ingest_app import create_app

    settings = Settings(**TEST_SECRETS)
    app = create_app(settings, {"DATABASE_URL": url})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def click_payload(i: int) -> dict:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "type": "email.clicked",
        "created_at": now,
        "data": {
            "email_id": f"em_seed_{i}",
            "created_at": now,
            "from": "Growth <hello@example.com>",
            "to": [f"person{i}@bench.example"],
            "subject": "This week in growth",
            "tags": {"person_id": f"p_bench_{i}", "campaign_id": "weekly_digest", "funnel": "newsletter"},
            "click": {"ipAddress": "203.0.113.9", "link": "https://example.com/blog", "timestamp": now,
                      "userAgent": "Mozilla/5.0 (bench)"},
        },
    }


def fresh_persons(url: str, persons: int, n: int) -> list[int]:
    """Seeded persons never in the segment (a kept database remembers earlier runs' qualifiers)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select i from generate_series(1, %s) as i where not exists ("
            " select 1 from activation.segment_membership m where m.segment = %s and m.person_id = 'p_bench_' || i)"
            " order by (i * 4919) %% %s limit %s",
            (persons, SEGMENT, persons, n),
        ).fetchall()
    if len(rows) < n:
        raise SystemExit("not enough seeded persons left outside the segment; run without --keep")
    return [i for (i,) in rows]


def succeeded_cycles(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("select count(*) from activation.pipeline_cycle where status = 'succeeded'").fetchone()[0]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--qualifiers", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between qualifying webhooks")
    parser.add_argument("--sensor-interval", type=int, default=Settings().sensor_interval_s,
                        help="GDP_SENSOR_INTERVAL_S for the daemon (default: the setting's default)")
    parser.add_argument("--coordinator", choices=sorted(RUN_COORDINATORS), default="queued",
                        help="run coordinator in dagster.yaml (gdp dagster writes the queued one)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="reuse the bench database (skip re-seeding)")
    args = parser.parse_args()

    server_url = gdb.database_url(Settings.from_env())
    url = prepare_database(server_url, args.persons, args.keep)
    baseline_cycle(url)

    fake = FakeResend(api_key="re_bench_key", rate_limit_per_s=2).start()
    ingest_port = 18000 + os.getpid() % 1000
    start_ingest(url, ingest_port)

    home = Path(tempfile.mkdtemp(prefix="bench_latency_dagster_"))
    dagster_db = DB_NAME + "_dagster"
    gdb.drop_database(server_url, dagster_db)
    workspace = prepare_home(home, args.coordinator)
    dagster_pg_url = sqlalchemy_url(gdb.create_database(server_url, dagster_db))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": dagster_pg_url,
        "DATABASE_URL": url,
        "RESEND_API_KEY": fake.api_key,
        "RESEND_API_BASE": fake.url,
        "GDP_SENSOR_INTERVAL_S": str(args.sensor_interval),
        "RESEND_WEBHOOK_SECRET": RESEND_SECRET,
    }
    baseline_cycles = succeeded_cycles(url)
    daemon_log = (home / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(workspace)],
        cwd=REPO, env=env, stdout=daemon_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log(f"daemon pid {daemon.pid}, DAGSTER_HOME {home}, sensor interval {args.sensor_interval}s, "
        f"{args.coordinator} run coordinator")

    fresh = fresh_persons(url, args.persons, args.qualifiers)
    measured_from = datetime.now(timezone.utc)
    sent_at: dict[str, float] = {}
    arrived_at: dict[str, float] = {}
    seen = 0
    try:
        # The sensor's first tick sees the seeded rows and launches one (no-op) cycle;
        # measuring starts once that cycle has finished, so it does not count.
        settle_deadline = time.monotonic() + args.timeout
        while succeeded_cycles(url) < baseline_cycles + 1:
            if time.monotonic() > settle_deadline or daemon.poll() is not None:
                raise SystemExit(f"the daemon's first cycle did not finish (log: {home / 'daemon.log'})")
            time.sleep(1)
        log("first daemon cycle done; sending qualifying webhooks")
        measured_from = datetime.now(timezone.utc)
        client = httpx.Client(base_url=f"http://127.0.0.1:{ingest_port}", timeout=10)
        next_send = time.monotonic()
        i = 0
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            if i < args.qualifiers and now >= next_send:
                i += 1
                person = fresh[i - 1]
                email = f"person{person}@bench.example"
                delivery = resend_delivery(click_payload(person), RESEND_SECRET, svix_id=f"msg_bench_{uuid.uuid4().hex}")
                answer = client.post(delivery.path, content=delivery.body, headers=delivery.headers)
                if answer.status_code != 200:
                    raise SystemExit(f"webhook answered {answer.status_code}: {answer.text}")
                sent_at[email] = time.monotonic()
                next_send = now + args.interval
            for record in fake.delivered[seen:]:
                for to in record["email"].get("to") or []:
                    if to in sent_at and to not in arrived_at:
                        arrived_at[to] = time.monotonic()
                seen += 1
            if i >= args.qualifiers and len(arrived_at) >= len(sent_at):
                break
            time.sleep(0.1)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon_log.close()
        fake.stop()

    waits = [arrived_at[e] - sent_at[e] for e in arrived_at]
    missing = sorted(set(sent_at) - set(arrived_at))
    print()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"persons {args.persons}, qualifiers {len(sent_at)}, sensor interval {args.sensor_interval}s, "
          f"webhook every {args.interval}s, {args.coordinator} run coordinator")
    if waits:
        print(f"webhook 2xx -> email at fake Resend: p50 {statistics.median(waits):.1f}s  "
              f"p95 {percentile(waits, 0.95):.1f}s  max {max(waits):.1f}s  (n={len(waits)})")
    if missing:
        print(f"NOT delivered within {args.timeout:.0f}s: {len(missing)} (daemon log: {home / 'daemon.log'})")
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    from activation.latency import dagster_run_moments, latency, send_timelines, stage_breakdown, with_run_moments

    # Only this run's sends: a kept database holds earlier runs', whose Dagster records are gone.
    for report in latency(url, channel="email", since=measured_from):
        print("outbox qualification -> send:", report.line())
    os.environ["DAGSTER_PG_URL"] = dagster_pg_url
    timelines = [t for t in send_timelines(url, channel="email", since=measured_from) if t.cycle_id and not t.cycle_id.startswith("bench-")]
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        timelines = with_run_moments(timelines, dagster_run_moments(instance, (t.cycle_id for t in timelines)))
    stages = stage_breakdown(timelines)
    print("stages (gdp latency):")
    for stage in stages:
        print("  " + stage.line())
    print("RESULT " + json.dumps({
        "scale": f"{args.persons} persons, {len(sent_at)} qualifying webhooks {args.interval}s apart, "
                 f"sensor interval {args.sensor_interval}s",
        "p50_s": round(statistics.median(waits), 1) if waits else None,
        "p95_s": round(percentile(waits, 0.95), 1) if waits else None,
        "max_s": round(max(waits), 1) if waits else None, "missing": len(missing),
        "coordinator": args.coordinator,
        "stages": {f"{r.stage}<-{r.since}": [None if v is None else round(v, 2) for v in (r.p50_s, r.p95_s)]
                   for r in stages},
    }))


if __name__ == "__main__":
    main()
