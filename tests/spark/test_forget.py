"""`gdp person forget` reaches the Spark warehouse: the raw copy deletes the forgotten landings.

Two persons land through the real endpoints (Ada's and Bob's rows share today's partition),
plus Resend rows received on three earlier days: one Bob only, one both, one Ada only. After
a first copy, Postgres builds `identity_link` (so forget finds Ada's distinct ids too), Ada
is forgotten in Postgres, and the copy runs again: no Spark raw table names Ada any more,
Bob's rows and the partitions that held no Ada row are untouched (the same parquet files),
and a third copy changes nothing. Then Spark's dbt build (its models are tables rebuilt
from raw each cycle) leaves no Spark table naming her.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import psycopg
import pytest

from gdp import raw_copy
from gdp.dbt import SPARK_TARGET, spark_build_args
from gdp.raw_copy import FORGOTTEN_LANDINGS, copy_raw, copy_snapshots
from privacy.forget import forget
from tests.dbt_helpers import build, ingest_client, private_database
from tests.privacy.test_forget import _send_person
from tests.spark.conftest import dbt_in_process

ADA, BOB, CY = "ada.forget@example.org", "bob.kept@example.net", "cy.crash@example.com"
EMAILS = {"ada": ADA, "bob": BOB, "cy": CY}
EARLIER = {  # received_date -> whose Resend rows land that day
    "2026-11-20": ("bob",),
    "2026-11-21": ("ada", "bob"),
    "2026-11-22": ("ada",),
    "2026-11-23": ("cy", "bob"),  # Cy is forgotten later, by a copy that crashes
}


def _land_earlier(url: str) -> None:
    with psycopg.connect(url) as conn:
        for day, whose in EARLIER.items():
            for who in whose:
                email = EMAILS[who]
                payload = {"type": "email.sent", "data": {"email_id": f"em_{who}_{day}", "to": [email]}}
                conn.execute(
                    "insert into raw.resend_event (svix_id, event_type, received_at, payload) values (%s, 'email.sent', %s, %s)",
                    (f"msg_{who}_{day}", datetime.fromisoformat(f"{day}T12:00:00+00:00"), json.dumps(payload)),
                )


def stored_tables(spark, database: str) -> list:
    """The tables of `database`, without the session's temporary views (listTables lists those
    too, under any database: an earlier dbt run in this session leaves its `__dbt_tmp` views)."""
    return [t for t in spark.catalog.listTables(database) if not t.isTemporary]


def naming(spark, database: str, needles: list[str]) -> dict[str, int]:
    """Rows of every Spark table of `database` whose string columns contain a needle (any case)."""
    found = {}
    for table in stored_tables(spark, database):
        frame = spark.table(f"`{database}`.`{table.name}`")
        text = [f"coalesce(lower(cast(`{f.name}` as string)), '')" for f in frame.schema.fields
                if f.dataType.simpleString() == "string"]
        if not text:
            continue
        hay = f"concat_ws('|', {', '.join(text)})"
        wanted = " or ".join(f"instr({hay}, '{n.lower()}') > 0" for n in needles)
        n = spark.sql(f"select count(*) from `{database}`.`{table.name}` where {wanted}").first()[0]
        if n:
            found[f"{database}.{table.name}"] = n
    return found


def files_by_partition(spark, table: str) -> dict[str, set[str]]:
    rows = spark.sql(f"select cast(received_date as string) as day, input_file_name() as f from raw.{table}").collect()
    out: dict[str, set[str]] = {}
    for row in rows:
        out.setdefault(row["day"], set()).add(row["f"])
    return out


def counts_by_partition(spark, table: str) -> dict[str, int]:
    return {r[0]: r[1] for r in spark.sql(
        f"select cast(received_date as string), count(*) from raw.{table} group by 1").collect()}


@pytest.fixture(scope="module")
def forgotten(server_url, settings, spark, empty_spark_raw, tmp_path_factory):
    with private_database(server_url) as url:
        with ingest_client(settings, url) as client:
            ada = _send_person(client, ADA, "adaspark")
            bob = _send_person(client, BOB, "bobspark")
        _land_earlier(url)
        copy_raw(url, spark)
        before = {
            "ada": naming(spark, "raw", [ADA, ada["distinct_id"]]),
            "resend_files": files_by_partition(spark, "resend_event"),
            "resend_counts": counts_by_partition(spark, "resend_event"),
            "tables": {t.name: spark.table(f"raw.{t.name}").count() for t in stored_tables(spark, "raw")},
        }
        # identity_link, so forget also finds the rows that name Ada only by a distinct id.
        build(url, tmp_path_factory.mktemp("forget_pg"), "--select", "+identity_link",
              "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
        report = forget(url, ADA, settings=settings)
        print("\n" + report.summary())
        timed = []
        for _ in range(2):
            started = time.perf_counter()
            timed.append(copy_raw(url, spark))
            print(f"raw copy after the forget: {time.perf_counter() - started:.1f} s")
        second, third = timed
        yield {"url": url, "ada": ada, "bob": bob, "before": before, "report": report, "second": second, "third": third}


def test_the_copy_deletes_every_forgotten_landing(forgotten, spark):
    ada, before, report = forgotten["ada"], forgotten["before"], forgotten["report"]
    needles = [ADA, ada["distinct_id"], ada["person_id"]]
    assert len(before["ada"]) >= 6, before["ada"]  # resend, stripe, posthog, cal, calendly, identify
    assert naming(spark, "raw", needles) == {}
    landings_deleted = sum(report.deleted.get(f"raw.{table}", 0) for table in before["tables"])
    applied = next(r for r in forgotten["second"] if r.table == f"raw.{FORGOTTEN_LANDINGS}")
    assert applied.copied == landings_deleted > 0
    with psycopg.connect(forgotten["url"]) as conn:
        # Spark holds exactly Postgres' remaining rows, table by table.
        for table, n in before["tables"].items():
            if table in (FORGOTTEN_LANDINGS, "forgotten_identifier", "person_id_key"):
                continue
            remaining = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]  # noqa: S608 - catalog names
            assert spark.table(f"raw.{table}").count() == remaining, table
            assert remaining == n - report.deleted.get(f"raw.{table}", 0), table
        # The record of what was forgotten names no one.
        record = conn.execute("select coalesce(string_agg(r::text, '|'), '') from raw.forgotten_landing as r").fetchone()[0]
    assert not any(n.lower() in record.lower() for n in needles)
    assert spark.table(f"raw.{FORGOTTEN_LANDINGS}").count() == landings_deleted


def test_only_the_partitions_that_held_the_person_are_rewritten(forgotten, spark):
    before = forgotten["before"]
    counts = counts_by_partition(spark, "resend_event")
    files = files_by_partition(spark, "resend_event")
    # Bob only: the very same files. Both: Bob's row kept. Ada only: empty.
    assert files["2026-11-20"] == before["resend_files"]["2026-11-20"]
    assert counts["2026-11-20"] == before["resend_counts"]["2026-11-20"] == 1
    assert before["resend_counts"]["2026-11-21"] == 2 and counts["2026-11-21"] == 1
    assert files["2026-11-21"] != before["resend_files"]["2026-11-21"]
    assert "2026-11-22" in before["resend_counts"] and "2026-11-22" not in counts
    bob_svix = {r[0] for r in spark.sql("select svix_id from raw.resend_event").collect()}
    assert {"msg_bob_2026-11-20", "msg_bob_2026-11-21"} <= bob_svix
    assert naming(spark, "raw", [BOB, forgotten["bob"]["distinct_id"]])


def test_a_copy_after_the_forget_changes_nothing(forgotten, spark):
    third = forgotten["third"]
    assert all(r.copied == 0 for r in third), [r for r in third if r.copied]
    assert not any(r.table == f"raw.{FORGOTTEN_LANDINGS}" for r in third)
    assert naming(spark, "raw", [ADA, forgotten["ada"]["distinct_id"]]) == {}


def test_a_run_that_crashed_before_recording_reapplies_harmlessly(forgotten, spark):
    """Spark's log lost (as if the copy crashed after rewriting): the next copy finds the landings
    gone, rewrites nothing and records them again."""
    files = files_by_partition(spark, "resend_event")
    logged = spark.table(f"raw.{FORGOTTEN_LANDINGS}").count()
    spark.sql(f"drop table raw.{FORGOTTEN_LANDINGS}")
    again = copy_raw(forgotten["url"], spark)
    assert next(r.copied for r in again if r.table == f"raw.{FORGOTTEN_LANDINGS}") == logged
    assert spark.table(f"raw.{FORGOTTEN_LANDINGS}").count() == logged
    assert files_by_partition(spark, "resend_event") == files
    assert all(r.copied == 0 for r in copy_raw(forgotten["url"], spark))


def test_a_crash_while_overwriting_a_partition_is_restored_from_the_stage(forgotten, spark, settings, monkeypatch):
    """Cy shares 2026-11-23 with Bob. The first rewrite of it dies after emptying the partition
    (as a crash inside Spark's overwrite would leave it); the next copy puts Bob's row back
    from the complete stage, and Cy is gone."""
    url = forgotten["url"]
    assert counts_by_partition(spark, "resend_event")["2026-11-23"] == 2
    forget(url, CY, settings=settings)

    def crash(spark_, schema, table, dates):
        for day in dates:
            spark_.sql(f"alter table `{schema}`.`{table}` drop partition (received_date = '{day}')")
        raise RuntimeError("crashed while overwriting")

    with monkeypatch.context() as patched:
        patched.setattr(raw_copy, "_rewrite_from_stage", crash)
        with pytest.raises(RuntimeError, match="crashed"):
            copy_raw(url, spark)
    assert "2026-11-23" not in counts_by_partition(spark, "resend_event")  # Bob's row is only in the stage now
    copy_raw(url, spark)
    assert counts_by_partition(spark, "resend_event")["2026-11-23"] == 1
    assert {r[0] for r in spark.sql("select svix_id from raw.resend_event where received_date = date'2026-11-23'").collect()} \
        == {"msg_bob_2026-11-23"}
    assert naming(spark, "raw", [CY]) == {}
    assert all(r.copied == 0 for r in copy_raw(url, spark))


def test_spark_s_next_build_names_the_person_nowhere(forgotten, spark, spark_dbt_env, tmp_path_factory):
    """Spark's models are tables rebuilt from raw each cycle, segment_member a partition per segment."""
    url, ada = forgotten["url"], forgotten["ada"]
    copy_snapshots(url, spark)
    args = spark_build_args()
    del args[args.index("--target"):args.index("--target") + 2]  # dbt_in_process names the target
    dbt_in_process([*args, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"], SPARK_TARGET,
                   spark_dbt_env, tmp_path_factory.mktemp("forget_spark"))
    assert naming(spark, "analytics", [ADA, ada["distinct_id"], ada["person_id"], CY]) == {}
    linked = {r[0] for r in spark.sql("select identifier_value from analytics.identity_link").collect()}
    assert BOB in linked and forgotten["bob"]["distinct_id"] in linked
