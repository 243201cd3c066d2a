"""The identity graph on both engines: one world of merges, chains, placeholders, refused client
edges and a quarantined component (the arrivals of tests/warehouse/test_identity_incremental.py)
landed once through the real endpoints, `dbt build --selector spark` on Postgres and, after the
raw copy, on Spark; Spark's own identity graph (no copy from Postgres any more) gives the same
identity_link, the same persons, the same rows of every identity table, and so the same events.
"""

from __future__ import annotations

import time
from collections import Counter

import psycopg
import pytest

from gdp.db import dbt_env
from gdp.raw_copy import copy_raw, copy_snapshots
from tests.dbt_helpers import ingest_client, private_database
from tests.spark.conftest import dbt_in_process
from tests.spark.parity import event_counts, json_columns_of, postgres_rows, spark_rows
from tests.warehouse.test_identity_incremental import cycle_1, cycle_2, cycle_3, cycle_4

# The same selection on both engines, with the small size cap the incremental test uses (the
# shared inbox of the world passes it and is quarantined).
BUILD = ["build", "--selector", "spark", "--indirect-selection", "cautious",
         "--vars", '{"identity_max_component_size": 7}']
# Every identity table, compared row by row; the run stamps (written_at, changed_at) differ by design.
COMPARED = [
    "identity_link", "int_identity__edges", "int_identity__nodes", "int_identity__verified_components",
    "int_identity__claims", "int_identity__anonymous_groups", "int_identity__client_edges",
    "int_identity__refused_edges", "int_identity__components", "int_identity__quarantine",
    "int_identity__resolved", "int_privacy__identity_hashes",
]
STAMPS = {"written_at", "changed_at"}


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url, ingest_client(settings, url) as client:
        for arrive in (cycle_1, cycle_2, cycle_3, cycle_4):
            arrive(client, url)
        yield url


@pytest.fixture(scope="module")
def built_on_both(world_url, spark, empty_spark_raw, spark_dbt_env, tmp_path_factory):
    timings = {}
    started = time.perf_counter()
    dbt_in_process(BUILD, "default", {**dbt_env(world_url), "GDP_DBT_SCHEMA": "analytics"},
                   tmp_path_factory.mktemp("id_pg"))
    timings["postgres dbt build --selector spark"] = time.perf_counter() - started
    started = time.perf_counter()
    copy_raw(world_url, spark)
    copy_snapshots(world_url, spark)
    timings["raw copy (landings + snapshots)"] = time.perf_counter() - started
    started = time.perf_counter()
    dbt_in_process(BUILD, "spark", spark_dbt_env, tmp_path_factory.mktemp("id_spark"))
    timings["spark dbt build --selector spark"] = time.perf_counter() - started
    print("\n" + "\n".join(f"{step}: {seconds:.1f} s" for step, seconds in timings.items()))
    return world_url


def _without_stamps(columns, rows):
    keep = [i for i, name in enumerate(columns) if name not in STAMPS]
    return [columns[i] for i in keep], sorted((tuple(row[i] for i in keep) for row in rows), key=repr)


def test_identity_link_and_persons_are_the_same_on_both_engines(built_on_both, spark):
    with psycopg.connect(built_on_both) as conn:
        pg_links = dict(conn.execute("select identity_key, person_id from analytics.identity_link").fetchall())
        pg_persons = {r[0] for r in conn.execute("select distinct person_id from analytics.identity_link")}
    spark_links = {r[0]: r[1] for r in spark.sql("select identity_key, person_id from analytics.identity_link").collect()}
    spark_persons = {r[0] for r in spark.sql("select distinct person_id from analytics.identity_link").collect()}
    assert spark_links == pg_links and len(pg_links) > 20
    assert spark_persons == pg_persons


@pytest.mark.parametrize("model", COMPARED)
def test_identity_rows_are_the_same_on_both_engines(built_on_both, spark, model):
    pg_columns, pg = _without_stamps(*postgres_rows(built_on_both, model))
    spark_columns, sp = _without_stamps(*spark_rows(spark, model, json_columns_of(built_on_both, model)))
    assert spark_columns == pg_columns
    assert len(sp) == len(pg)
    for pg_row, spark_row in zip(pg, sp):
        assert spark_row == pg_row, f"{model}: {dict(zip(pg_columns, pg_row))} != {dict(zip(pg_columns, spark_row))}"


def test_the_world_merges_chains_refuses_and_quarantines_on_spark(built_on_both, spark):
    """The comparison above means something: Spark's graph joins, splits, refuses and aliases."""
    link = {r["identity_key"]: r.asDict() for r in spark.sql("select * from analytics.identity_link").collect()}
    chain = {link[k]["person_id"] for k in ("email:a@chain.org", "person_id:p_chain_a", "person_id:p_chain_b",
                                             "app_user_id:u-chain-a", "posthog_distinct_id:anon-chain-b")}
    assert len(chain) == 1
    assert link["person_id:p_chain_b"]["is_alias"]
    assert any(r["link_type"] == "derived_alias" for r in link.values())
    assert "email:test@test.com" not in link and "posthog_distinct_id:undefined" not in link
    assert link["email:shared@inbox.org"]["is_quarantined"]
    assert link["person_id:p_shared_9"]["person_id"] == "p_shared_9"
    assert spark.sql("select count(*) from analytics.int_identity__quarantine").collect()[0][0] == 1
    assert spark.sql("select count(*) from analytics.int_identity__refused_edges").collect()[0][0] >= 3


def test_event_counts_per_type_are_the_same_on_both_engines(built_on_both, spark):
    on_postgres, linked_pg, on_spark, linked_spark = event_counts(built_on_both, spark)
    assert on_spark == on_postgres and len(on_postgres) >= 3
    assert linked_spark == linked_pg > 0
