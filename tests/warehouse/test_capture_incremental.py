"""capture_completeness is counted incrementally (int_capture__counts) and stays exact.

A small world, then cycles of arrivals: readable rows, rows staging refuses (hostile casts),
a late commit (a row whose received_at is older than the newest row the last build saw),
and a `gdp person forget` that deletes raw rows. After each cycle the incremental counts
must equal what the raw tables hold, and at the end a `--full-refresh` rebuild.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from bench.bench_warehouse import GENERATE, execute_script
from gdp.settings import Settings
from privacy.forget import forget
from tests.conftest import TEST_SECRETS
from tests.dbt_helpers import build, private_database, rows
from tests.hostile_raw import ROWS

SIZES = {"persons": 30, "resend": 120, "posthog": 300, "clicks": 20, "customers": 4, "capi": 10, "leads": 6}
SELECTION = ("--select", "+capture_completeness", "--exclude", "tag:nightly", "--exclude-resource-type", "unit_test",
             "--indirect-selection", "cautious")
COMPARED = "select raw_table, raw_rows, event_rows, excluded_rows, missing_rows, captured_pct, excluded_reasons" \
    " from analytics.capture_completeness order by raw_table"


def arrive(url: str, step: int, received_at: str) -> None:
    """Page views (one of them unreadable), an email open, and a hostile row of every refused kind."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.posthog_event (uuid, event_name, distinct_id, occurred_at, via, received_at, payload)"
            " select 'cap' || %(s)s || '_' || g, '$pageview', 'anon_' || g, %(at)s::timestamptz - interval '1 hour', 'webhook',"
            " %(at)s::timestamptz, jsonb_build_object('uuid', 'cap' || %(s)s || '_' || g, 'event', '$pageview',"
            "   'timestamp', case when g = 1 then 'soon' else %(at)s::text end, 'properties', '{}'::jsonb)"
            " from generate_series(1, 12) as g",
            {"s": step, "at": received_at},
        )
        conn.execute(
            "insert into raw.resend_event (svix_id, event_type, received_at, payload) values (%(id)s, 'email.opened',"
            " %(at)s::timestamptz, jsonb_build_object('type', 'email.opened', 'created_at', %(at)s::text,"
            "   'data', jsonb_build_object('email_id', 'em_cap', 'to', jsonb_build_array('user3@bench.example'))))",
            {"id": f"msg_cap{step}", "at": received_at},
        )
        for table, key, columns, payload, _ in ROWS:
            values = {**columns, key: f"{columns[key]}_{step}", "payload": Jsonb(payload), "received_at": received_at}
            conn.execute(f"insert into raw.{table} ({', '.join(values)}) values ({', '.join(['%s'] * len(values))})",  # noqa: S608
                         list(values.values()))


def raw_counts(url: str) -> dict[str, int]:
    """What the raw tables hold, counted directly."""
    tables = ["resend_event", "stripe_event", "posthog_event", "click", "meta_capi_event", "identify_call",
              "cal_event", "calendly_event", "deal_event"]
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}  # noqa: S608


def check_against_raw(url: str) -> None:
    counted = {r["raw_table"]: r for r in rows(url, COMPARED)}
    for table, n in raw_counts(url).items():
        if n:
            assert counted[table]["raw_rows"] == n, (table, counted[table], n)
            assert counted[table]["missing_rows"] == 0, counted[table]


@pytest.mark.slow
def test_incremental_capture_counts_equal_a_full_rebuild(server_url, tmp_path):
    target = tmp_path / "target"
    settings = Settings(data_dir=tmp_path, **TEST_SECRETS)
    with private_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            execute_script(conn, GENERATE, SIZES)
        build(url, target, *SELECTION)
        check_against_raw(url)

        clock = ["2030-01-01T10:00:00+00:00", "2030-01-01T11:00:00+00:00", "2030-01-01T12:00:00+00:00"]
        for step, at in enumerate(clock):
            arrive(url, step, at)
            if step == 2:
                # Committed late: older than the newest row the last build saw, within the lookback.
                arrive(url, 9, "2030-01-01T10:55:00+00:00")
            build(url, target, *SELECTION)
            check_against_raw(url)

        # The history was not counted again: the rows older than the mark are settled counts.
        settled = rows(url, "select raw_table, settled_before, sum(row_count) as n from analytics.int_capture__counts"
                            " where is_settled group by 1, 2")
        posthog = next(r for r in settled if r["raw_table"] == "posthog_event")
        assert posthog["n"] > 0 and str(posthog["settled_before"]).startswith("2030-01-01 11:50")
        # A table that stopped receiving (the leads imported in one batch a day ago) is settled
        # whole by the wall clock: its last batch is not counted again in every build.
        unsettled = rows(url, "select raw_table, sum(row_count) as n from analytics.int_capture__counts"
                              " where not is_settled group by 1")
        assert {r["raw_table"]: r["n"] for r in unsettled}["lead"] == 0

        # Forgetting a person deletes raw rows: the next build counts them gone.
        before = raw_counts(url)["resend_event"]
        forget(url, "user3@bench.example", settings=settings)
        assert raw_counts(url)["resend_event"] < before
        arrive(url, 3, "2030-01-01T13:00:00+00:00")
        build(url, target, *SELECTION)
        check_against_raw(url)

        incremental = rows(url, COMPARED)
        build(url, target, *SELECTION, "--full-refresh")
        assert rows(url, COMPARED) == incremental
