"""Warehouse benchmark: identity + event + person_features at 100k persons / 2M events.

    .venv/bin/python bench/bench_warehouse.py [--persons 100000] [--events 2000000]

Creates a private database on the configured server (DATABASE_URL or the embedded
one), generates raw rows for every source directly with SQL generate_series (in the
shapes the ingest app lands), then times with dbt:
  1. the full build: `dbt run --full-refresh --select +person_features +attribution`
     (staging, identity graph, incremental event from scratch, person, person_features);
  2. one incremental cycle after 10k new raw events (incl. late identifications):
     the same selection without --full-refresh;
and prints both with the command that produced them and the slowest models. Then the
pipeline cycle as Dagster runs it (dbt build, membership ledger, one activation pass per
channel, dry-run), after 0 and after 10k new raw rows, two ways on the same database:
  - "whole selection": `dbt build --selector cycle` in a dbt subprocess each cycle (how the
    cycle ran before orchestration/cycle_plan.py);
  - "planned": `orchestration.cycle.run_cycle` (dbt in-process, only what moved sources,
    the clock and changed code reach);
  - "dagster run": the sensor's `refresh_and_activate` job in this process (the same plan,
    the ledger, every activation channel against local fake Resend and Meta servers).
(--cycles-only skips the first two figures; the first planned cycle is then the full build.)
Figures are printed, never asserted. The database is dropped at the end
(--keep to inspect it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gdp import db as gdb  # noqa: E402
from gdp.dbt import run_dbt  # noqa: E402
from gdp.migrate import apply_migrations  # noqa: E402
from gdp.settings import Settings  # noqa: E402

SELECTION = ["--select", "+person_features", "+attribution"]

GENERATE = """
-- Resend: 4 webhooks per email (sent, delivered, opened, clicked); tags as a list half the time.
insert into raw.resend_event (svix_id, event_type, received_at, payload)
select 'msg_' || g, t.type, now() - ((g %% 60) || ' days')::interval - interval '1 hour',
       jsonb_build_object('type', t.type, 'created_at', now() - ((g %% 60) || ' days')::interval,
         'data', jsonb_build_object('email_id', 'em_' || (g / 4), 'to', jsonb_build_array('user' || p || '@bench.example'),
           'subject', 'Hello',
           'tags', case when g %% 8 < 4
             then jsonb_build_object('person_id', 'p_bench_' || p, 'campaign_id', 'c' || (g %% 7), 'funnel', 'newsletter')
             else jsonb_build_array(jsonb_build_object('name', 'person_id', 'value', 'p_bench_' || p),
                                    jsonb_build_object('name', 'campaign_id', 'value', 'c' || (g %% 7))) end))
from generate_series(0, %(resend)s - 1) as g
cross join lateral (select ((g / 4) %% %(persons)s) + 1 as p) as person
cross join lateral (select (array['email.sent', 'email.delivered', 'email.opened', 'email.clicked'])[g %% 4 + 1] as type) as t;

-- PostHog: page views, usage; a third of persons are app users identified with their person id.
insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, received_at, payload)
select 'ph_' || g, e.name, d.distinct_id, now() - ((g %% 45) || ' days')::interval - ((g %% 24) || ' hours')::interval,
       'webhook', now() - ((g %% 45) || ' days')::interval - interval '1 hour',
       jsonb_build_object('uuid', 'ph_' || g, 'event', e.name, 'distinct_id', d.distinct_id,
         'timestamp', now() - ((g %% 45) || ' days')::interval,
         'properties', jsonb_build_object('$current_url', 'https://bench.example' ||
            (array['/pricing', '/blog/post', '/offer/agency', '/docs/start', '/'])[g %% 5 + 1],
            '$session_id', 's_' || (g / 7)))
from generate_series(0, %(posthog)s - 1) as g
cross join lateral (select (g %% %(persons)s) + 1 as p) as person
cross join lateral (select case when p %% 3 = 0 and g %% 2 = 0 then 'p_bench_' || p else 'anon_' || p end as distinct_id) as d
cross join lateral (select case when g %% 10 < 6 then '$pageview' when g %% 10 < 9 then 'feature_used' else 'project_created' end as name) as e;

insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, payload)
select 'ph_identify_' || p, '$identify', 'p_bench_' || p, now() - interval '40 days', 'webhook',
       jsonb_build_object('uuid', 'ph_identify_' || p, 'event', '$identify', 'distinct_id', 'p_bench_' || p,
         'properties', jsonb_build_object('$anon_distinct_id', 'anon_' || p, '$set', jsonb_build_object('email', 'user' || p || '@bench.example')))
from generate_series(3, %(persons)s, 3) as p;

-- Tracked-link clicks (one in ten a scanner).
insert into raw.click (click_id, person_id, campaign_id, funnel, destination_url, is_bot, bot_reason, clicked_at, received_at)
select 'clk_' || g, 'p_bench_' || ((g %% %(persons)s) + 1), 'c' || (g %% 7), 'newsletter', 'https://bench.example/pricing',
       g %% 10 = 0, case when g %% 10 = 0 then 'head_request' end,
       now() - ((g %% 30) || ' days')::interval, now() - ((g %% 30) || ' days')::interval - interval '1 hour'
from generate_series(0, %(clicks)s - 1) as g;

-- Stripe: per customer created (metadata.person_id), checkout, subscription created + updated, invoice paid.
insert into raw.stripe_event (stripe_event_id, event_type, received_at, payload)
select 'evt_' || c || '_' || k, t.type, now() - ((c %% 50) || ' days')::interval - interval '1 hour',
       jsonb_build_object('id', 'evt_' || c || '_' || k, 'type', t.type,
         'created', extract(epoch from now() - ((c %% 50) || ' days')::interval)::bigint + k,
         'data', jsonb_build_object('object', case
           when k = 0 then jsonb_build_object('object', 'customer', 'id', 'cus_' || c, 'email', 'user' || c * 7 || '@bench.example',
                                              'metadata', jsonb_build_object('person_id', 'p_bench_' || c * 7))
           when k = 1 then jsonb_build_object('object', 'checkout.session', 'id', 'cs_' || c, 'customer', 'cus_' || c,
                                              'client_reference_id', 'p_bench_' || c * 7, 'subscription', 'sub_' || c,
                                              'mode', 'subscription', 'amount_total', 2900, 'currency', 'usd')
           when k in (2, 3) then jsonb_build_object('object', 'subscription', 'id', 'sub_' || c, 'customer', 'cus_' || c,
                                              'status', case when k = 2 then 'incomplete' else 'active' end, 'currency', 'usd',
                                              'items', jsonb_build_object('data', jsonb_build_array(jsonb_build_object('quantity', 1,
                                                'current_period_end', extract(epoch from now() + interval '20 days')::bigint,
                                                'price', jsonb_build_object('id', 'price_pro', 'unit_amount', 2900,
                                                  'recurring', jsonb_build_object('interval', 'month', 'interval_count', 1))))))
           else jsonb_build_object('object', 'invoice', 'id', 'in_' || c, 'customer', 'cus_' || c, 'amount_paid', 2900,
                                   'currency', 'usd', 'status', 'paid')
         end))
from generate_series(1, %(customers)s) as c
cross join generate_series(0, 4) as k
cross join lateral (select (array['customer.created', 'checkout.session.completed', 'customer.subscription.created',
                                  'customer.subscription.updated', 'invoice.paid'])[k + 1] as type) as t;

-- App users and their identify calls.
insert into auth.users (id, email, created_at)
select md5('user' || p)::uuid, 'user' || p || '@bench.example', now() - interval '41 days'
from generate_series(3, %(persons)s, 3) as p;
insert into raw.identify_call (identify_id, person_id, email, distinct_id, app_user_id, payload)
select 'idf_' || p, 'p_bench_' || p, 'user' || p || '@bench.example', 'p_bench_' || p, md5('user' || p)::uuid::text, '{}'
from generate_series(3, %(persons)s, 3) as p;

-- Meta CAPI relays.
insert into raw.meta_capi_event (event_id, event_name, event_time, person_id, fbp, payload)
select md5('capi' || g)::uuid::text, (array['Lead', 'ViewContent', 'InitiateCheckout'])[g %% 3 + 1],
       now() - ((g %% 20) || ' days')::interval, 'p_bench_' || ((g %% %(persons)s) + 1),
       'fb.1.1700000000000.' || ((g %% %(persons)s) + 1), '{}'
from generate_series(0, %(capi)s - 1) as g;

-- Outbound: leads, deal moves, bookings.
insert into raw.lead (email, name, company, owner, source, imported_at)
select 'lead' || l || '@bench.example', 'Lead ' || l, 'Co ' || l, 'sam', 'list', now() - interval '50 days'
from generate_series(1, %(leads)s) as l;
insert into raw.deal_event (deal_event_id, email, stage, objection, owner, occurred_at, payload)
select 'deal_' || l || '_' || k, 'lead' || l || '@bench.example',
       (array['contacted', 'replied_positive', 'booked', 'proposal_sent', 'won'])[k + 1],
       case when k = 1 and l %% 4 = 0 then 'price' end, 'sam', now() - ((40 - k * 5) || ' days')::interval, '{}'
from generate_series(1, %(leads)s) as l
cross join generate_series(0, 1 + (l %% 4)) as k;
insert into raw.cal_event (delivery_id, trigger_event, payload)
select 'cal_' || l, 'BOOKING_CREATED',
       jsonb_build_object('triggerEvent', 'BOOKING_CREATED', 'createdAt', now() - interval '20 days',
         'payload', jsonb_build_object('uid', 'bk_' || l, 'startTime', now() - interval '18 days',
           'attendees', jsonb_build_array(jsonb_build_object('email', 'lead' || l || '@bench.example'))))
from generate_series(1, %(leads)s, 4) as l;
insert into raw.calendly_event (delivery_id, event_type, payload)
select 'cly_' || l, 'invitee.created',
       jsonb_build_object('event', 'invitee.created', 'created_at', now() - interval '19 days',
         'payload', jsonb_build_object('email', 'lead' || l || '@bench.example', 'uri', 'https://api.calendly.com/i/' || l))
from generate_series(2, %(leads)s, 4) as l;

-- History arrived before the last cycle: nothing generated sits in the incremental lookback.
update raw.identify_call set received_at = received_at - interval '1 day';
update raw.meta_capi_event set received_at = received_at - interval '1 day';
update raw.lead set received_at = received_at - interval '1 day';
update raw.deal_event set received_at = received_at - interval '1 day';
update raw.cal_event set received_at = received_at - interval '1 day';
update raw.calendly_event set received_at = received_at - interval '1 day';
update raw.posthog_event set received_at = received_at - interval '1 day' where uuid like 'ph_identify_%%';
"""

NEW_EVENTS_BATCH = "ph_new"
NEW_EVENTS = """
-- 10k new raw rows for one cycle: page views of known and brand-new visitors,
-- emails, and identifies that move earlier anonymous events to their persons.
insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, payload)
select 'ph_new_' || g, '$pageview', case when g %% 2 = 0 then 'anon_' || ((g %% %(persons)s) + 1) else 'newanon_' || g end,
       now(), 'webhook',
       jsonb_build_object('uuid', 'ph_new_' || g, 'event', '$pageview', 'properties',
         jsonb_build_object('$current_url', 'https://bench.example/pricing'))
from generate_series(1, 7000) as g;
insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, payload)
select 'ph_new_identify_' || p, '$identify', 'p_bench_' || p, now(), 'webhook',
       jsonb_build_object('uuid', 'ph_new_identify_' || p, 'event', '$identify', 'distinct_id', 'p_bench_' || p,
         'properties', jsonb_build_object('$anon_distinct_id', 'anon_' || p))
from generate_series(1, 3000, 3) as p;
insert into raw.resend_event (svix_id, event_type, payload)
select 'msg_new_' || g, 'email.opened',
       jsonb_build_object('type', 'email.opened', 'created_at', now(),
         'data', jsonb_build_object('email_id', 'em_new_' || g, 'to', jsonb_build_array('user' || g || '@bench.example'),
           'tags', jsonb_build_object('person_id', 'p_bench_' || g, 'campaign_id', 'c1')))
from generate_series(1, 2000) as g;
"""


def new_events(batch: str) -> str:
    """NEW_EVENTS with its own ids, so several 10k batches can land in one run."""
    return NEW_EVENTS.replace("'ph_new", f"'{batch}").replace("'msg_new_", f"'msg_{batch}_").replace("'em_new_", f"'em_{batch}_")


def execute_script(conn: psycopg.Connection, script: str, params: dict) -> None:
    """Run each statement of a script (psycopg sends one statement per parametrized execute)."""
    for statement in script.split(";\n"):
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            conn.execute(body, params)


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = ["resend_event", "stripe_event", "posthog_event", "click", "meta_capi_event", "identify_call",
                  "cal_event", "calendly_event", "deal_event", "lead"]
        result = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}  # noqa: S608 - fixed names
        result["auth.users"] = conn.execute("select count(*) from auth.users").fetchone()[0]
        return result


def slowest(target: Path, n: int = 8) -> list[str]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    results.sort(key=lambda r: r["execution_time"], reverse=True)
    return [f"    {r['execution_time']:7.1f}s  {r['unique_id'].split('.')[-1]}" for r in results[:n]]


def timed_run(url: str, target: Path, args: list[str]) -> float:
    started = time.perf_counter()
    run = run_dbt(args, url, target_path=target)
    wall = time.perf_counter() - started
    if not run.ok:
        sys.exit("dbt failed:\n" + ("\n".join(run.failures) or run.output[-4000:]))
    return wall


def build_figures(url: str, n: int) -> dict:
    """The full build and one incremental `dbt run` of identity + event + person_features."""
    target = Path(tempfile.mkdtemp(prefix="gdp_bench_dbt_"))
    seed_wall = timed_run(url, target, ["seed"])
    print(f"seeds: {seed_wall:.1f}s wall (gdp dbt seed)")
    full_args = ["run", "--full-refresh", *SELECTION]
    wall = full_wall = timed_run(url, target, full_args)
    with psycopg.connect(url) as conn:
        persons = conn.execute("select count(*) from analytics.person").fetchone()[0]
        events = conn.execute("select count(*) from analytics.event").fetchone()[0]
        links = conn.execute("select count(*) from analytics.identity_link").fetchone()[0]
    print(f"\nfull build: {wall:.1f}s wall  ({persons:,} persons, {events:,} events, {links:,} identity links)")
    print(f"  command: gdp dbt {' '.join(full_args)}")
    print("  slowest models:")
    print("\n".join(slowest(target)))

    with psycopg.connect(url, autocommit=True) as conn:
        execute_script(conn, NEW_EVENTS, {"persons": n})
        conn.execute("create table public.bench_before as select event_id, person_id from analytics.event")
    incremental_args = ["run", *SELECTION]
    wall = timed_run(url, target, incremental_args)
    with psycopg.connect(url) as conn:
        events_after = conn.execute("select count(*) from analytics.event").fetchone()[0]
        moved = conn.execute(
            "select count(*) from analytics.event as e join public.bench_before as b using (event_id)"
            " where e.person_id is distinct from b.person_id"
        ).fetchone()[0]
    figures = {
        "full_build_s": round(full_wall, 1), "incremental_cycle_s": round(wall, 1), "persons": persons,
        "events": events, "identity_links": links, "new_raw_rows": 10_000,
        "events_moved_by_late_identification": moved, "seed_s": round(seed_wall, 1),
    }
    print(f"\nincremental cycle after 10,000 new raw rows: {wall:.1f}s wall"
          f"  (+{events_after - events:,} events; earlier events moved to another person: {moved:,})")
    print(f"  command: gdp dbt {' '.join(incremental_args)}")
    print("  slowest models:")
    print("\n".join(slowest(target)))
    return figures


def activation_pass(url: str) -> float:
    """One activation pass per channel, dry-run, as the four Dagster activation assets call it."""
    from activation.runner import CHANNELS, activate

    started = time.perf_counter()
    for channel in CHANNELS:
        activate(url, channels=[channel], dry_run=True)
    return time.perf_counter() - started


def whole_selection_cycle(url: str, target: Path) -> dict[str, float]:
    """The cycle before the plan: the whole `cycle` selection in a dbt subprocess, then ledger and activation."""
    import subprocess

    from gdp.dbt import cycle_build_args, dbt_command, dbt_environment
    from gdp.settings import REPO_ROOT
    from ledger.membership import new_cycle_id, record_cycle

    started = time.perf_counter()
    proc = subprocess.run(dbt_command(cycle_build_args()), env=dbt_environment(url, target_path=target), cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    dbt_s = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit("dbt failed:\n" + proc.stdout[-4000:])
    ledger_started = time.perf_counter()
    record_cycle(url, new_cycle_id())
    ledger_s = time.perf_counter() - ledger_started
    activation_s = activation_pass(url)
    return {"dbt_s": dbt_s, "ledger_s": ledger_s, "activation_s": activation_s, "total_s": time.perf_counter() - started}


def planned_cycle(url: str, target: Path) -> dict[str, float]:
    from orchestration.cycle import run_cycle

    started = time.perf_counter()
    result = run_cycle(url, target_path=target)
    cycle_s = time.perf_counter() - started
    if not result.ok:
        sys.exit("cycle failed:\n" + result.summary())
    activation_s = activation_pass(url)
    ran = json.loads((target / "run_results.json").read_text())["results"]
    return {"dbt_and_ledger_s": cycle_s, "dbt_s": result.dbt.elapsed_s, "activation_s": activation_s,
            "total_s": time.perf_counter() - started, "nodes": len(ran)}


class DagsterRuns:
    """The sensor's run as the daemon executes it, here in this process: `refresh_and_activate`
    (the planned dbt build, the ledger, every activation channel, against local fake Resend and
    Meta servers and a local Slack-style webhook for route-to-a-human notifications), on an
    ephemeral instance. Its plan starts from the state the planned cycles recorded (the same
    plan on the same database), so its first run is not a full build."""

    def __init__(self, url: str, planned_target: Path) -> None:
        import shutil

        from dagster import DagsterInstance

        from gdp.settings import get_settings
        from orchestration.cycle_plan import state_dir
        from orchestration.dbt_assets import cycle_state_target
        from orchestration.definitions import build_definitions
        from orchestration.jobs import REFRESH_AND_ACTIVATE
        from orchestration.resources import MetaResource, NotifierResource, PostgresResource, ResendResource
        from tests.fakes.base import FakeServer
        from tests.fakes.meta_api import FakeMeta
        from tests.fakes.resend_api import FakeResend

        class SlackSink(FakeServer):
            """Takes route-to-a-human notifications (Slack-compatible JSON POSTs) with a 200."""

            def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
                return 200, {}, b"ok"

        schema = get_settings().dbt_schema
        state = state_dir(cycle_state_target(), url, schema)
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(state_dir(planned_target, url, schema), state)
        self.resend, self.meta, self.slack = FakeResend(api_key="re_bench_key").start(), FakeMeta().start(), SlackSink().start()
        defs = build_definitions(resources={
            "postgres": PostgresResource(database_url=url),
            "resend": ResendResource(api_key=self.resend.api_key, api_base=self.resend.url),
            "meta": MetaResource(access_token=self.meta.access_token, pixel_id=self.meta.pixel_id, graph_base=self.meta.url),
            "notifier": NotifierResource(webhook_url=self.slack.url),
        })
        self.job = defs.resolve_job_def(REFRESH_AND_ACTIVATE)
        self.instance = DagsterInstance.ephemeral()

    def run(self) -> dict[str, float]:
        from orchestration.assets import ACTIVATION_CHANNELS

        started = time.perf_counter()
        result = self.job.execute_in_process(instance=self.instance, raise_on_error=False)
        total = time.perf_counter() - started
        if not result.success:
            sys.exit(f"the Dagster run failed: {[e.step_key for e in result.get_step_failure_events()]}")
        begun, steps = {}, {}
        for entry in self.instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is not None and event.event_type_value == "STEP_START":
                begun[event.step_key] = entry.timestamp
            elif event is not None and event.event_type_value == "STEP_SUCCESS":
                steps[event.step_key] = entry.timestamp - begun.get(event.step_key, entry.timestamp)
        activation = sum(steps.get(name, 0.0) for name in ACTIVATION_CHANNELS)
        return {"dbt_step_s": steps.get("gdp_dbt", 0.0), "ledger_s": steps.get("membership_ledger", 0.0),
                "activation_s": activation, "total_s": total}

    def close(self) -> None:
        self.instance.dispose()
        for server in (self.resend, self.meta, self.slack):
            server.stop()


def cycle_figures(url: str, n: int) -> dict[str, dict]:
    """The cycle after 0 and after 10k new raw rows: the whole selection, the planned one
    (`gdp refresh`), and the Dagster run the sensor launches."""
    target = Path(tempfile.mkdtemp(prefix="gdp_bench_cycle_"))
    whole_target = Path(tempfile.mkdtemp(prefix="gdp_bench_whole_"))
    first = planned_cycle(url, target)
    print(f"\nfirst planned cycle (builds everything, records the state): {first['total_s']:.1f}s")
    # The first cycle's activation pass records (dry-run) sends, which are rows of a source:
    # one more cycle takes them in, so the next figures start from a settled warehouse.
    settle = planned_cycle(url, target)
    print(f"settling cycle (takes in the first pass's sends): {settle['total_s']:.1f}s")
    dagster = DagsterRuns(url, target)
    figures: dict[str, dict] = {}
    try:
        _measure_ways(url, n, target, whole_target, dagster, figures)
    finally:
        dagster.close()
    return figures


def _measure_ways(url: str, n: int, target: Path, whole_target: Path, dagster: DagsterRuns, figures: dict) -> None:
    for label, batch in (("0 new raw rows", None), ("10,000 new raw rows", "a")):
        for way in ("whole selection", "planned", "dagster run"):
            if batch:
                with psycopg.connect(url, autocommit=True) as conn:
                    execute_script(conn, new_events(f"ph_{batch}{way[0]}"), {"persons": n})
            elif way == "dagster run":
                # the ways before it landed (dry-run) sends: one run takes them in, then nothing is new
                dagster.run()
            if way == "whole selection":
                figure = whole_selection_cycle(url, whole_target)
            elif way == "planned":
                figure = planned_cycle(url, target)
            else:
                figure = dagster.run()
            figures[f"{way}, {label}"] = {k: round(v, 2) for k, v in figure.items()}
            parts = ", ".join(f"{k} {v:.1f}" for k, v in figure.items() if k != "total_s")
            print(f"cycle after {label}, {way}: {figure['total_s']:.1f}s  ({parts})")
            if way == "planned":
                print("  slowest nodes:")
                print("\n".join(slowest(target, 5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--cycles-only", action="store_true", help="only the cycle figures (skip the dbt run figures)")
    args = parser.parse_args()

    server = gdb.database_url(Settings.from_env())
    name = f"gdp_bench_{int(time.time())}"
    url = gdb.create_database(server, name)
    try:
        apply_migrations(url)
        e, n = args.events, args.persons
        sizes = {
            "persons": n, "resend": int(e * 0.2), "posthog": int(e * 0.65), "clicks": int(e * 0.03),
            "customers": int(e * 0.02 / 5), "capi": int(e * 0.01), "leads": n // 5,
        }
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            execute_script(conn, GENERATE, sizes)
            conn.execute("analyze")
        raw = counts(url)
        print(f"generated {sum(raw.values()):,} raw rows in {time.perf_counter() - started:.1f}s: "
              + ", ".join(f"{t} {c:,}" for t, c in raw.items()))

        command = f"python -m bench.bench_warehouse --persons {n} --events {e}" + (" --cycles-only" if args.cycles_only else "")
        figures = {"raw_rows": sum(raw.values()), "command": command}
        if not args.cycles_only:
            figures.update(build_figures(url, n))
        figures["cycles"] = cycle_figures(url, n)
        print("RESULT " + json.dumps(figures))
    finally:
        if args.keep:
            print(f"\nkept database: {url}")
        else:
            gdb.drop_database(server, name)


if __name__ == "__main__":
    main()
