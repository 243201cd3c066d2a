"""Staging on both engines: the same world landed once, `dbt build -s staging` on Postgres
and on Spark (after the raw copy), and every staging model gives the same rows on each.

The world is the demo's simulator (tools/simulate), sent through the real ingest app in
this process, so the payloads are the providers' real shapes; beside it, rows no staging
cast can read (tests/hostile_raw.py) are landed straight into raw: both engines leave them
out of staging and list them in int_capture__unreadable_rows.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from gdp.raw_copy import copy_raw, copy_snapshots
from tests.dbt_helpers import private_database
from tests.hostile_raw import EXPECTED, land_hostile
from tests.spark.conftest import dbt_in_process
from tests.spark.parity import json_columns_of, land_world, postgres_rows, spark_rows

SELECTION = ["-s", "staging", "int_capture__unreadable_rows", "--exclude", "resource_type:unit_test"]


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url:
        land_world(url, settings, persons=60, days=7)
        land_hostile(url)
        yield url


def staging_models(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'analytics'"
            " and table_name like 'stg\\_%' order by 1"
        )]


@pytest.fixture(scope="module")
def built_on_both(world_url, spark, empty_spark_raw, spark_dbt_env, tmp_path_factory):
    from gdp.db import dbt_env

    timings = {}
    started = time.perf_counter()
    dbt_in_process(["build", *SELECTION], "default",
                   {**dbt_env(world_url), "GDP_DBT_SCHEMA": "analytics"}, tmp_path_factory.mktemp("stg_pg"))
    timings["postgres dbt build -s staging"] = time.perf_counter() - started
    started = time.perf_counter()
    copy_raw(world_url, spark)
    copy_snapshots(world_url, spark)
    timings["raw copy (landings + snapshots)"] = time.perf_counter() - started
    started = time.perf_counter()
    dbt_in_process(["build", *SELECTION], "spark",
                   spark_dbt_env, tmp_path_factory.mktemp("stg_spark"))
    timings["spark dbt build -s staging"] = time.perf_counter() - started
    print("\n" + "\n".join(f"{step}: {seconds:.1f} s" for step, seconds in timings.items()))
    return world_url


def test_every_staging_model_gives_the_same_rows_on_both_engines(built_on_both, spark):
    url = built_on_both
    models = staging_models(url)
    assert len(models) == 20  # every staging model
    on_spark = {t.name for t in spark.catalog.listTables("analytics")}
    assert set(models) <= on_spark
    nonempty = 0
    for model in models:
        pg_columns, pg = postgres_rows(url, model)
        spark_columns, sp = spark_rows(spark, model, json_columns_of(url, model))
        assert spark_columns == pg_columns, model
        assert len(sp) == len(pg), model
        for pg_row, spark_row in zip(pg, sp):
            assert spark_row == pg_row, f"{model}: {dict(zip(pg_columns, pg_row))} != {dict(zip(pg_columns, spark_row))}"
        nonempty += bool(pg)
    # The world reaches most sources (email, Stripe, PostHog, bookings, deals, auth users).
    assert nonempty >= 12


def test_unreadable_rows_are_the_same_on_both_engines(built_on_both, spark):
    with psycopg.connect(built_on_both) as conn:
        on_postgres = {tuple(r[:4]) for r in conn.execute(
            "select raw_table, raw_key, field, reason from analytics.int_capture__unreadable_rows")}
    on_spark = {tuple(r) for r in spark.sql(
        "select raw_table, raw_key, field, reason from analytics.int_capture__unreadable_rows").collect()}
    assert {r[:3] for r in on_postgres} == {r[:3] for r in on_spark} == EXPECTED
    # Reasons quote the value as each engine prints it; text values print the same.
    assert {r for r in on_spark if r[1] != "evt_far_future"} == {r for r in on_postgres if r[1] != "evt_far_future"}
