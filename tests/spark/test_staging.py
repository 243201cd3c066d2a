"""Staging on both engines: the same world landed once, `dbt build -s staging` on Postgres
and on Spark (after the raw copy), and every staging model gives the same rows on each.

The world is the demo's simulator (tools/simulate), sent through the real ingest app in
this process, so the payloads are the providers' real shapes; beside it, rows no staging
cast can read (tests/hostile_raw.py) are landed straight into raw: both engines leave them
out of staging and list them in int_capture__unreadable_rows.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import psycopg
import pytest

from gdp.raw_copy import copy_raw, copy_snapshots
from tests.dbt_helpers import private_database
from tests.hostile_raw import EXPECTED, land_hostile
from tests.spark.conftest import dbt_in_process
from tools.simulate.sender import Sender
from tools.simulate.world import World

# stg_activation__outbox and stg_deals__leads changed after the port and still use Postgres-only
# forms (docs/spark.md lists them as the next models to port); both engines build without them.
SELECTION = ["-s", "staging", "int_capture__unreadable_rows",
             "--exclude", "resource_type:unit_test", "stg_activation__outbox", "stg_deals__leads"]


def land_world(url: str, settings, *, persons: int, days: int, seed: int = 7) -> None:
    """The simulator's touches through the real app (a WSGI transport instead of a server)."""
    from ingest_app import create_app

    app = create_app(settings, {"TESTING": True, "DATABASE_URL": url})
    world = World(persons=persons, days=days, seed=seed)
    world.build()
    sender = Sender("http://ingest.test", settings, url, seed=seed, workers=2)
    sender.client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://ingest.test")
    try:
        stats = sender.send_all(world.touches())
    finally:
        sender.client.close()
        app.extensions["gdp_pool"].close()
    assert sum(stats.accepted.values()) > 0


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url:
        land_world(url, settings, persons=60, days=7)
        land_hostile(url)
        yield url


def _plain(value):
    """One comparable form per value: JSON parsed, instants as UTC text, numbers as floats."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _json_text(value):
    return None if value is None else json.dumps(json.loads(value), sort_keys=True)


def postgres_rows(url: str, table: str) -> tuple[list[str], list[tuple]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(f"select * from analytics.{table}")
        columns = [d.name for d in cursor.description]
        return columns, sorted((tuple(_plain(v) for v in row) for row in cursor), key=repr)


def spark_rows(spark, table: str, json_columns: set[str]) -> tuple[list[str], list[tuple]]:
    """Timestamps read as UTC text inside Spark (pyspark would turn them into local time)."""
    fields = spark.table(f"analytics.{table}").schema.fields
    select = ", ".join(
        f"date_format(`{f.name}`, \"yyyy-MM-dd'T'HH:mm:ss.SSSSSS\") as `{f.name}`"
        if f.dataType.typeName() == "timestamp" else f"`{f.name}`"
        for f in fields
    )
    columns = [f.name for f in fields]
    rows = []
    for row in spark.sql(f"select {select} from analytics.{table}").collect():
        rows.append(tuple(
            _json_text(value) if name in json_columns else _plain(value) for name, value in zip(columns, row)
        ))
    return columns, sorted(rows, key=repr)


def staging_models(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'analytics'"
            " and table_name like 'stg\\_%' order by 1"
        )]


def json_columns_of(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'analytics'"
            " and table_name = %s and data_type in ('jsonb', 'json')", (table,)
        )}


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
    assert len(models) == 18  # every staging model but the two not yet ported (SELECTION)
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
