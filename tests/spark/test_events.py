"""`event` on both engines, through the cycle `gdp refresh --warehouse spark` runs: one demo
world landed once, then `run_cycle` with the Spark warehouse (raw copied into Spark, Postgres'
whole cycle and ledger, `dbt build --selector spark` on Spark), and both engines give the same
events, type by type and row by row, and the same rows of the other ported models.

Spark builds its own identity graph and `identity_link` (tests/spark/test_identity.py compares
them table by table on a world of merges and quarantine); here the links must agree too, so the
person each event resolves to is the same.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import psycopg
import pytest

from orchestration.cycle import run_cycle
from tests.dbt_helpers import private_database
from tests.spark.parity import event_counts, json_columns_of, land_world, postgres_rows, spark_rows

# The ported models past staging, compared row by row (staging: test_staging.py).
COMPARED = ["event", "int_events__unioned", "int_attribution__touches", "int_capture__raw_rows"]


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url:
        land_world(url, settings, persons=40, days=5, seed=11)
        yield url


@pytest.fixture(scope="module")
def built_on_both(world_url, settings, spark, spark_dir, empty_spark_raw, tmp_path_factory):
    on_spark = dataclasses.replace(settings, warehouse="spark", spark_dir=spark_dir, dbt_schema="analytics")
    result = run_cycle(world_url, settings=on_spark, target_path=tmp_path_factory.mktemp("ev_cycle"))
    print("\n" + result.summary())
    print(f"postgres dbt build (whole cycle): {result.dbt.elapsed_s:.1f} s; "
          f"spark raw copy: {result.spark.raw.elapsed_s:.1f} s; "
          f"spark dbt build (selector spark): {result.spark.dbt.elapsed_s:.1f} s")
    assert result.ok, result.summary()
    assert result.ledger is not None and result.spark.raw.rows > 0
    return world_url


def test_event_counts_per_type_are_the_same_on_both_engines(built_on_both, spark):
    on_postgres, linked_pg, on_spark, linked_spark = event_counts(built_on_both, spark)
    assert on_spark == on_postgres
    # The world reaches every funnel: email, web, billing, bookings, sales.
    assert len(on_postgres) >= 8 and sum(on_postgres.values()) > 200
    assert linked_spark == linked_pg > 0


@pytest.mark.parametrize("model", COMPARED)
def test_rows_are_the_same_on_both_engines(built_on_both, spark, model):
    pg_columns, pg = postgres_rows(built_on_both, model)
    spark_columns, sp = spark_rows(spark, model, json_columns_of(built_on_both, model))
    assert spark_columns == pg_columns
    assert len(sp) == len(pg) > 0
    for pg_row, spark_row in zip(pg, sp):
        assert spark_row == pg_row, f"{model}: {dict(zip(pg_columns, pg_row))} != {dict(zip(pg_columns, spark_row))}"


def test_identity_link_spark_built_is_postgres_own(built_on_both, spark):
    pg_columns, pg = postgres_rows(built_on_both, "identity_link")
    spark_columns, sp = spark_rows(spark, "identity_link", set())
    assert (spark_columns, sp) == (pg_columns, pg) and pg
