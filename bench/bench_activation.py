"""Activation throughput: ledger transitions → outbox → emails accepted by a fake Resend.

Run: .venv/bin/python bench/bench_activation.py [--emails 5000] [--batch-size 100] [--rate 0] [--latency-ms 20]
     .venv/bin/python bench/bench_activation.py --held 116570


A private database on the embedded server, `--emails` contactable persons entering
one email segment (hand-made relations in a private schema, as in the tests), the
fake Resend over real HTTP answering after `--latency-ms` (Resend's own answers take
tens of milliseconds). Prints the time to plan, prepare (check, cap, render, store)
and send, and emails/s. With `--rate 2` (Resend's default) sending is bound by the
rate limit: 2 requests/s × 100 emails per batch = at most 200 emails/s.

`--held N` measures the other end: a world where the blast-radius guard holds N
transitions (an email and an audience activation each) and nothing is due. It
prints the first `activate()` (which plans the held rows), then the steady state:
a whole `activate()` over every channel, and the four calls one Dagster run makes
(one per activation asset, same cycle id), each with nothing to send.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from activation import emails  # noqa: E402
from activation.outbox import ActivationReport, Run  # noqa: E402
from activation.plan import plan_transitions  # noqa: E402
from activation.runner import CHANNELS, activate, dry_run_channels  # noqa: E402
from gdp import db as gdb  # noqa: E402
from gdp.migrate import apply_migrations  # noqa: E402
from gdp.settings import Settings  # noqa: E402
from tests.activation_support import add_people, add_segment, add_transitions, make_settings, reset  # noqa: E402
from tests.fakes.resend_api import FakeResend  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="client requests/s (0 = unpaced)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--held", type=int, default=0, help="instead: N held transitions, nothing to send")
    parser.add_argument("--persons", type=int, default=None,
                        help="with --held: persons in the hand-made marts (default N); the held transitions cycle over them")
    args = parser.parse_args()
    if args.held:
        return held_world(args.held, args.persons or args.held)

    server = gdb.database_url(Settings.from_env())
    name = f"gdp_bench_activation_{uuid.uuid4().hex[:6]}"
    url = gdb.create_database(server, name)
    fake = FakeResend(latency_s=args.latency_ms / 1000).start()
    try:
        apply_migrations(url)
        reset(url, server_url=server)
        add_segment(url, "new_signup_no_activation_24h", [{"channel": "email", "template": "one_minute_setup"}])
        add_transitions(url, "new_signup_no_activation_24h", add_people(url, args.emails))
        settings = make_settings(Path(tempfile.mkdtemp()), resend=fake, resend_batch_size=args.batch_size,
                                 resend_requests_per_second=args.rate)
        run = Run(url, settings, ActivationReport(), dry_run_channels(settings, None))
        t0 = time.perf_counter()
        plan_transitions(run)
        t1 = time.perf_counter()
        emails.prepare(run, dry_run=False)
        t2 = time.perf_counter()
        emails.work(run)
        t3 = time.perf_counter()
        sent = run.report.total("resend_emails", "sent")
        print(f"activation bench: {args.emails} emails, batch {args.batch_size}, rate {args.rate or 'unpaced'} req/s, "
              f"fake latency {args.latency_ms:.0f} ms")
        print(f"  plan     {t1 - t0:6.2f} s  ({args.emails / (t1 - t0):,.0f} transitions/s)")
        print(f"  prepare  {t2 - t1:6.2f} s  ({args.emails / (t2 - t1):,.0f} emails/s rendered and stored)")
        print(f"  send     {t3 - t2:6.2f} s  ({sent / (t3 - t2):,.0f} emails/s accepted; {len(fake.requests)} requests)")
        print(f"  total    {t3 - t0:6.2f} s, {sent} sent, {len(fake.deliveries_by_ref())} distinct emails at the fake")
    finally:
        fake.stop()
        gdb.drop_database(server, name)


def held_world(n: int, persons: int) -> None:
    server = gdb.database_url(Settings.from_env())
    name = f"gdp_bench_held_{uuid.uuid4().hex[:6]}"
    url = gdb.create_database(server, name)
    try:
        apply_migrations(url)
        reset(url, server_url=server)
        segment = "checkout_started_no_purchase_4h"
        add_segment(url, segment, [{"channel": "email", "template": "one_minute_setup"},
                                   {"channel": "meta_audience", "audience": "high_intent"}])
        people = add_people(url, persons)
        with gdb.connect(url, autocommit=True) as conn:
            conn.execute(
                """insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at, is_held)
                   select 'c_held_' || (i / %s), %s, (%s::text[])[1 + i %% %s], 'entered', now(), true
                   from generate_series(0, %s - 1) as i""",
                (persons, segment, people, persons, n),
            )
        settings = make_settings(Path(tempfile.mkdtemp()))
        per_run = "cycle_id" in inspect.signature(activate).parameters

        def timed(**kwargs) -> float:
            t0 = time.perf_counter()
            activate(url, settings=settings, **kwargs)
            return time.perf_counter() - t0

        first = timed()
        steady = timed()
        run_id = f"run_{uuid.uuid4().hex[:8]}"
        dagster = sum(timed(channels=[c], **({"cycle_id": run_id} if per_run else {})) for c in CHANNELS)
        with gdb.connect(url) as conn:
            rows = conn.execute("select status, count(*) from activation.outbox group by 1 order by 1").fetchall()
        print(f"activation bench, held world: {n} held transitions (email + audience each) over {persons} persons, nothing to send")
        print(f"  first activate()                     {first:7.2f} s  (plans the held rows: {dict(rows)})")
        print(f"  activate(), nothing new              {steady:7.2f} s")
        print(f"  one Dagster run (4 asset calls)      {dagster:7.2f} s")
        print("RESULT " + json.dumps({"held": n, "persons": persons, "first_s": round(first, 2), "steady_s": round(steady, 2),
                                     "dagster_run_s": round(dagster, 2)}))
    finally:
        gdb.drop_database(server, name)


if __name__ == "__main__":
    main()
