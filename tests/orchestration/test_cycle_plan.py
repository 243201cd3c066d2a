"""The cycle builds what new rows, the clock and changed code reach, and gives what a full rebuild gives.

A world of raw rows (the shapes the ingest app lands, written with SQL like bench/bench_warehouse.py)
goes through incremental cycles with arrivals, merges, late identifications and clock moves
(var `as_of_at`); afterwards every contract table and `segment_member` must equal a
`--full-refresh` rebuild from raw at the same clock.
"""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from bench.bench_warehouse import GENERATE, execute_script
from gdp.dbt import CYCLE_SELECTOR, dbt_command, dbt_environment
from gdp.settings import REPO_ROOT
from orchestration.cycle import run_cycle
from orchestration.cycle_plan import CYCLE_EXCLUDES, stable_views, state_dir
from orchestration.project import PARSE_PLACEHOLDER_URL
from tests.dbt_helpers import private_database, rows

PERSONS = 60
SIZES = {"persons": PERSONS, "resend": 400, "posthog": 900, "clicks": 60, "customers": 8, "capi": 30, "leads": 12}
CLOCK = ["2026-12-01T12:00:00+00:00", "2026-12-02T13:00:00+00:00", "2026-12-09T13:00:00+00:00", "2027-01-05T00:00:00+00:00",
         "2027-01-12T06:00:00+00:00"]


def listed(tmp_path, *args: str) -> set[str]:
    env = dbt_environment(PARSE_PLACEHOLDER_URL, target_path=tmp_path)
    proc = subprocess.run(
        dbt_command(["ls", "--output", "json", "--output-keys", "unique_id", "-q", *args]),
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {json.loads(line)["unique_id"] for line in proc.stdout.splitlines() if line.startswith("{")}


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_the_plans_exclusions_are_the_cycle_selector(tmp_path):
    """The plan spells selectors.yml's `cycle` as CLI exclusions: both must select the same nodes."""
    assert listed(tmp_path, "--selector", CYCLE_SELECTOR) == listed(
        tmp_path, "--select", "fqn:*", "--exclude", *CYCLE_EXCLUDES, "--exclude-resource-type", "unit_test"
    )


def arrivals(url: str, step: int) -> None:
    """New rows of one cycle: page views of known and new visitors, an email open, a late
    identification (an anonymous visitor's $identify) and a merge (one person's id with another's email)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, payload)"
            " select %(p)s::text || g, '$pageview', case when g %% 2 = 0 then 'anon_' || g else 'new' || %(p)s::text || g end,"
            " %(at)s::timestamptz - interval '1 hour', 'webhook', jsonb_build_object('uuid', %(p)s::text || g, 'event', '$pageview',"
            " 'properties', jsonb_build_object('$current_url', 'https://bench.example/pricing'))"
            " from generate_series(1, 20) as g",
            {"p": f"ph_c{step}_", "at": CLOCK[step]},
        )
        conn.execute(
            "insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, payload)"
            " values (%(id)s, '$identify', %(person)s, %(at)s::timestamptz - interval '30 minutes', 'webhook',"
            " jsonb_build_object('uuid', %(id)s::text, 'event', '$identify', 'distinct_id', %(person)s::text,"
            "   'properties', jsonb_build_object('$anon_distinct_id', %(anon)s::text)))",
            {"id": f"ph_c{step}_identify", "person": f"p_bench_{step + 1}", "anon": f"anon_{10 + step}", "at": CLOCK[step]},
        )
        conn.execute(
            "insert into raw.identify_call (identify_id, person_id, email, distinct_id, payload)"
            " values (%s, %s, %s, %s, '{}')",
            (f"idf_c{step}", f"p_bench_{20 + step}", f"user{30 + step}@bench.example", f"p_bench_{20 + step}"),
        )
        conn.execute(
            "insert into raw.resend_event (svix_id, event_type, payload) values (%(id)s, 'email.opened',"
            " jsonb_build_object('type', 'email.opened', 'created_at', %(at)s::timestamptz - interval '2 hours',"
            "   'data', jsonb_build_object('email_id', %(email)s::text, 'to', jsonb_build_array('user5@bench.example'),"
            "   'tags', jsonb_build_object('person_id', 'p_bench_5', 'campaign_id', 'c1'))))",
            {"id": f"msg_c{step}", "email": f"em_c{step}", "at": CLOCK[step]},
        )
        # Contact data that changes without an event: a Stripe customer's new phone and address,
        # an app account's new name (auth.users is updated in place).
        conn.execute(
            "insert into raw.stripe_event (stripe_event_id, event_type, payload) values (%(id)s, 'customer.updated',"
            " jsonb_build_object('id', %(id)s::text, 'type', 'customer.updated', 'created', extract(epoch from %(at)s::timestamptz)::bigint,"
            "   'data', jsonb_build_object('object', jsonb_build_object('object', 'customer', 'id', 'cus_1',"
            "     'email', 'user7@bench.example', 'phone', %(phone)s::text, 'name', %(name)s::text,"
            "     'address', jsonb_build_object('country', 'de', 'city', %(city)s::text)))))",
            {"id": f"evt_c{step}_customer", "at": CLOCK[step], "phone": f"+49 30 555 01{step}", "name": f"Seven v{step}",
             "city": f"Berlin {step}"},
        )
        conn.execute(
            "update auth.users set raw_user_meta_data = jsonb_build_object('full_name', %s::text, 'phone', %s::text)"
            " where email = 'user3@bench.example'",
            (f"Three v{step}", f"+1 555 030{step}"),
        )


def contract_tables(target) -> list[str]:
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("contract", {}).get("enforced")
    ) + ["segment_member"]


# The incremental identity's bookkeeping (macros/identity_graph.sql): which run wrote an edge
# (`written_at`) and the newest arrival of the batch that wrote it (`last_received_at`, the source
# watermark). They say when, not what; every other column of every contract table is compared.
BOOKKEEPING = {
    "int_identity__edges": {"last_received_at", "written_at"},
}


def snapshot(url: str, tables: list[str]) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        shots = {}
        for table in tables:
            columns = [
                name for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'analytics'"
                    " and table_name = %s order by ordinal_position", (table,)
                ).fetchall()
                if name not in BOOKKEEPING.get(table, set())
            ]
            listing = ", ".join(f'"{name}"' for name in columns)
            shots[table] = sorted(map(repr, conn.execute(f"select {listing} from analytics.{table}").fetchall()))  # noqa: S608 - catalog names
        return shots


def ran(target) -> set[str]:
    return {r["unique_id"].split(".")[-1] for r in json.loads((target / "run_results.json").read_text())["results"]}


@pytest.mark.slow
def test_incremental_cycles_equal_a_full_rebuild(server_url, tmp_path):
    target = tmp_path / "target"
    with private_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            execute_script(conn, GENERATE, SIZES)
        first = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[0]})
        assert first.ok, first.summary()
        assert first.plan.reason == "first cycle on this database"

        # Nothing new and the same clock: no source-fed model, no staging view, no seed runs;
        # the clock models do; views over rebuilt tables are still there. The project is the
        # first cycle's: dbt writes no manifest, the state keeps the first one.
        state_manifest = state_dir(target, url, "analytics") / "manifest.json"
        written = (state_manifest.stat().st_mtime_ns, (target / "manifest.json").stat().st_mtime_ns)
        quiet = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[0]})
        assert quiet.ok, quiet.summary()
        assert quiet.plan.incremental and quiet.plan.keeps_manifest
        assert (state_manifest.stat().st_mtime_ns, (target / "manifest.json").stat().st_mtime_ns) == written
        built = ran(target)
        assert {"event", "person", "identity_link", "stg_resend__events", "event_vocabulary"}.isdisjoint(built)
        assert {"person_features", "new_signup_no_activation_24h"} <= built
        assert rows(url, "select count(*) as n from analytics.activation_holdout")[0]["n"] >= 0
        assert "stg_resend__events" in stable_views(json.loads((target / "manifest.json").read_text()))

        for step in (1, 2, 3):
            arrivals(url, step)
            cycle = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[step]})
            assert cycle.ok, cycle.summary()
            assert {"source.gdp.posthog.posthog_event", "source.gdp.resend.resend_event"} <= set(cycle.plan.moved)
            assert "event" in ran(target) and "stg_posthog__events" not in ran(target)
            # event re-resolved only what identity rewrote since the last cycle (the comparison
            # with the full rebuild below proves nothing was missed)
            assert cycle.plan.env.get("GDP_IDENTITY_SINCE"), cycle.plan.env

            # Only the persons this cycle changed were re-read from event, not all of them.
            fresh = rows(url, "select count(*) filter (where events_seen_before = (select max(events_seen_before)"
                              " from analytics.int_persons__event_rollup)) as fresh, count(*) as every"
                              " from analytics.int_persons__event_rollup")[0]
            assert 0 < fresh["fresh"] < fresh["every"], fresh
            # person: the same, only the changed persons' rows are rewritten.
            fresh = rows(url, "select count(*) filter (where identity_written_before = (select max(identity_written_before)"
                              " from analytics.int_persons__profile)) as fresh, count(*) as every"
                              " from analytics.int_persons__profile")[0]
            assert 0 < fresh["fresh"] < fresh["every"], fresh
            assert rows(url, "select name, phone from analytics.person where email = 'user3@bench.example'")[0] == {
                "name": f"Three v{step}", "phone": f"+1 555 030{step}"}

        # The clock alone moves a week: person and the event rollup stay, the window counts of the
        # persons with an event leaving a window are recomputed (found on the time index), no others.
        clock = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[4]})
        assert clock.ok, clock.summary()
        assert {"int_persons__event_windows", "person_features"} <= ran(target)
        assert {"event", "person", "int_persons__event_rollup"}.isdisjoint(ran(target))
        moved = rows(url, "select count(*) filter (where computed_as_of_at = %s::timestamptz) as moved, count(*) as every"
                          " from analytics.int_persons__event_windows", (CLOCK[4],))[0]
        assert 0 < moved["moved"] < moved["every"], moved

        tables = contract_tables(target)
        incremental = snapshot(url, tables)
        assert incremental["event"], "the world has events"
        full = run_cycle(url, target_path=target, full_refresh=True, record=False,
                         extra_vars={"as_of_at": CLOCK[4]})
        assert full.ok, full.summary()
        rebuilt = snapshot(url, tables)
        differing = [table for table in tables if incremental[table] != rebuilt[table]]
        assert not differing, {t: (len(incremental[t]), len(rebuilt[t])) for t in differing}


@pytest.mark.slow
def test_a_view_re_created_for_changed_code_keeps_the_views_that_read_it(server_url, tmp_path):
    """dbt re-creates a changed view by dropping the old one with CASCADE. The unchanged views
    reading it (otherwise kept out of the build as stable) are re-created in the same build: a
    leaf view (report_send over stg_activation__outbox) stays, and a table built from a chain of
    them (event over int_events__unioned over int_events__posthog over stg_posthog__events) builds."""
    target = tmp_path / "target"
    with private_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            execute_script(conn, GENERATE, SIZES)
        first = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[0]})
        assert first.ok, first.summary()
        # The last cycle's manifest says these two views had other code (and its fingerprint is
        # of another project): state:modified picks them.
        (state_dir(target, url, "analytics") / "fingerprint").write_text("the previous version")
        state = state_dir(target, url, "analytics") / "manifest.json"
        manifest = json.loads(state.read_text())
        for changed_view in ("stg_activation__outbox", "stg_posthog__events"):
            node = manifest["nodes"][f"model.gdp.{changed_view}"]
            node["raw_code"] += "\n-- the previous version"
            node["checksum"]["checksum"] = "0" * 64
        state.write_text(json.dumps(manifest))
        assert {"report_send", "int_events__posthog", "int_events__unioned"} <= set(stable_views(manifest))

        changed = run_cycle(url, target_path=target, extra_vars={"as_of_at": CLOCK[0]})
        assert changed.ok, changed.summary()
        assert changed.plan.incremental and not changed.plan.keeps_manifest
        # the build's own manifest replaces the stale state
        assert "the previous version" not in json.loads(state.read_text())["nodes"]["model.gdp.stg_posthog__events"]["raw_code"]
        for view in ("report_send", "int_events__posthog", "int_events__unioned"):
            assert rows(url, f"select to_regclass('analytics.{view}') is not null as present")[0]["present"], \
                f"{view} dropped with the view it reads and not re-created"
