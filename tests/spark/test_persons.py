"""The same people and the same segments on both engines, and segment_member synced back.

One demo world, landed once. First the plain Postgres cycle builds everything (the segments
by their post-hooks) and its `person`, `person_features` and `segment_member` rows are kept.
Then the cycle `gdp refresh --warehouse spark` runs on the same database with the same clock
(var as_of_at): raw copied into Spark, Postgres' build without the segments, Spark's build of
the person marts and the segments, Spark's `segment_member` synced into Postgres, the ledger.
Spark's rows equal the ones Postgres built, so the sync finds nothing to change in the rows
Postgres' own segments wrote; a second sync writes nothing; a change (the clock moved two
days, the segments rebuilt on Spark) syncs exactly the rows that differ.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from gdp.segment_sync import sync_segment_member
from orchestration.cycle import run_cycle
from tests.dbt_helpers import private_database
from tests.spark.conftest import dbt_in_process
from tests.spark.parity import json_columns_of, land_world, plain, postgres_rows, spark_rows

COMPARED = ["person", "person_features", "segment_member", "contact_eligibility", "deal", "subscription",
            "email_message", "email_event", "int_persons__event_rollup", "int_persons__event_windows"]
# Marks of the incremental rollups: when the build ran (Postgres' ran first), not what it found.
MARKS = {"events_seen_before", "events_in_lookback", "identity_seen_at", "auth_events_seen"}


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S+00:00")


@pytest.fixture(scope="module")
def as_of() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def world_url(server_url, settings):
    with private_database(server_url) as url:
        land_world(url, settings, persons=40, days=5, seed=13)
        yield url


@pytest.fixture(scope="module")
def on_postgres(world_url, settings, as_of, tmp_path_factory):
    """Postgres' own build (warehouse postgres), its rows of the compared models."""
    plain_settings = dataclasses.replace(settings, warehouse="postgres", dbt_schema="analytics")
    result = run_cycle(world_url, settings=plain_settings, target_path=tmp_path_factory.mktemp("pg_cycle"),
                       extra_vars={"as_of_at": _clock(as_of)})
    print("\n" + result.summary())
    assert result.ok, result.summary()
    return {model: postgres_rows(world_url, model) for model in COMPARED}


@pytest.fixture(scope="module")
def spark_cycle(on_postgres, world_url, settings, as_of, spark, spark_dir, empty_spark_raw, tmp_path_factory):
    on_spark = dataclasses.replace(settings, warehouse="spark", spark_dir=spark_dir, dbt_schema="analytics")
    target = tmp_path_factory.mktemp("spark_cycle")
    result = run_cycle(world_url, settings=on_spark, target_path=target, extra_vars={"as_of_at": _clock(as_of)})
    print("\n" + result.summary())
    assert result.ok, result.summary()
    return result, target


def _spark_rows_like(spark, url, model, pg_columns):
    """Spark's rows in Postgres' column order (segment_member keeps its partition column last)."""
    columns, rows = spark_rows(spark, model, json_columns_of(url, model))
    order = [columns.index(name) for name in pg_columns]
    return columns, sorted((tuple(row[i] for i in order) for row in rows), key=repr)


def _without(columns, rows, dropped):
    keep = [i for i, name in enumerate(columns) if name not in dropped]
    return sorted((tuple(row[i] for i in keep) for row in rows), key=repr)


@pytest.mark.parametrize("model", COMPARED)
def test_rows_are_the_same_on_both_engines(spark_cycle, on_postgres, world_url, spark, model):
    pg_columns, pg = on_postgres[model]
    spark_columns, sp = _spark_rows_like(spark, world_url, model, pg_columns)
    assert sorted(spark_columns) == sorted(pg_columns)
    pg, sp = _without(pg_columns, pg, MARKS), _without(pg_columns, sp, MARKS)
    assert len(sp) == len(pg)
    if model in ("person", "person_features", "segment_member"):
        assert pg, f"the world gives {model} no rows"
    names = [c for c in pg_columns if c not in MARKS]
    for pg_row, spark_row in zip(pg, sp):
        assert spark_row == pg_row, f"{model}: {dict(zip(names, pg_row))} != {dict(zip(names, spark_row))}"


def test_the_same_person_ids_and_segments(spark_cycle, on_postgres, spark):
    pg_columns, pg = on_postgres["person"]
    at = pg_columns.index("person_id")
    assert {r[0] for r in spark.sql("select person_id from analytics.person").collect()} == {row[at] for row in pg}
    seg_columns, members = on_postgres["segment_member"]
    key = (seg_columns.index("segment"), seg_columns.index("person_id"))
    on_spark = {(r[0], r[1]) for r in spark.sql("select segment, person_id from analytics.segment_member").collect()}
    assert on_spark == {(row[key[0]], row[key[1]]) for row in members}
    assert len({segment for segment, _ in on_spark}) >= 3


def test_the_cycle_synced_spark_segments_into_postgres_and_the_ledger_read_them(spark_cycle, on_postgres, world_url):
    result, _ = spark_cycle
    sync = result.spark.sync
    # Postgres' own segments had written the same rows: nothing to change.
    assert sync.spark_rows == len(on_postgres["segment_member"][1]) > 0
    assert sync.written == 0, sync.summary()
    assert postgres_rows(world_url, "segment_member") == on_postgres["segment_member"]
    assert result.ledger is not None and result.spark.after_sync.ok
    # Postgres' build in that cycle left the segments to Spark.
    assert "path:models/segments/outbound" in result.plan.args and "segment_member+" in result.plan.args


def test_a_second_sync_with_nothing_changed_writes_nothing(spark_cycle, world_url, spark):
    again = sync_segment_member(world_url, spark, "analytics")
    assert again.spark_rows > 0 and again.written == 0, again.summary()


def test_a_change_syncs_exactly_the_changed_rows(spark_cycle, world_url, spark, spark_dbt_env, as_of):
    _, target = spark_cycle
    before = _members(spark)
    later = {"as_of_at": _clock(as_of + timedelta(days=2))}

    dbt_in_process(["build", "--select", "int_persons__event_windows", "person_features", "models/segments", "--exclude", "tag:nightly",
                    "--exclude-resource-type", "test", "unit_test", "--vars", json.dumps(later)],
                   "spark", spark_dbt_env, target / "spark_later")
    after = _members(spark)
    entered = after.keys() - before.keys()
    exited = before.keys() - after.keys()
    changed = {k for k in after.keys() & before.keys() if after[k] != before[k]}
    assert entered or exited or changed, "moving the clock two days changes no membership"
    sync = sync_segment_member(world_url, spark, "analytics")
    assert (sync.inserted, sync.deleted, sync.updated) == (len(entered), len(exited), len(changed)), sync.summary()
    with psycopg.connect(world_url) as conn:
        on_postgres = {(s, p): (plain(q), c) for s, p, q, c in conn.execute(
            "select segment, person_id, qualified_at, context::text from analytics.segment_member")}
    assert on_postgres.keys() == after.keys()
    assert sync_segment_member(world_url, spark, "analytics").written == 0


def _members(spark) -> dict[tuple[str, str], tuple]:
    rows = spark.sql(
        "select segment, person_id, date_format(qualified_at, \"yyyy-MM-dd'T'HH:mm:ss.SSSSSS\"), context"
        " from analytics.segment_member").collect()
    return {(r[0], r[1]): (r[2], json.dumps(json.loads(r[3]), sort_keys=True) if r[3] else None) for r in rows}
