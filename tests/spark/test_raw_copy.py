"""The raw copy into Spark: incremental by landing id, idempotent, partitioned by day.

A real migrated Postgres holds a few landed rows; the copy runs into the test session's
Spark catalog. Run twice it adds nothing; new rows are appended; a row that commits after
a higher landing id was copied (identity values are taken before commit) is still copied.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from gdp.raw_copy import copy_raw
from tests.dbt_helpers import private_database

DAY1 = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def raw_url(server_url, empty_spark_raw):
    with private_database(server_url) as url:
        yield url


def land_resend(url: str, svix_id: str, received_at: datetime, landing_id: int | None = None) -> None:
    payload = json.dumps({"type": "email.sent", "data": {"email_id": svix_id, "tags": [{"name": "funnel", "value": "newsletter"}]}})
    with psycopg.connect(url) as conn:
        if landing_id is None:
            conn.execute(
                "insert into raw.resend_event (svix_id, event_type, received_at, payload) values (%s, 'email.sent', %s, %s)",
                (svix_id, received_at, payload),
            )
        else:
            conn.execute(
                "insert into raw.resend_event (svix_id, landing_id, event_type, received_at, payload)"
                " overriding system value values (%s, %s, 'email.sent', %s, %s)",
                (svix_id, landing_id, received_at, payload),
            )


def copied(results, table: str) -> int:
    return next(r.copied for r in results if r.table == table)


def spark_rows(spark, table: str) -> list:
    return spark.sql(f"select * from raw.{table} order by landing_id").collect()


def test_copy_is_incremental_and_idempotent(raw_url, spark):
    land_resend(raw_url, "msg_1", DAY1)
    land_resend(raw_url, "msg_2", DAY1 + timedelta(minutes=40))
    land_resend(raw_url, "msg_3", DAY1 + timedelta(minutes=50))

    first = copy_raw(raw_url, spark)
    assert copied(first, "resend_event") == 3
    rows = spark_rows(spark, "resend_event")
    assert [r["svix_id"] for r in rows] == ["msg_1", "msg_2", "msg_3"]
    assert json.loads(rows[0]["payload"])["data"]["email_id"] == "msg_1"
    assert [str(r["received_date"]) for r in rows] == ["2026-11-20", "2026-11-21", "2026-11-21"]
    partitions = {r[0] for r in spark.sql("show partitions raw.resend_event").collect()}
    assert partitions == {"received_date=2026-11-20", "received_date=2026-11-21"}
    # Every landed table exists in Spark, empty ones too, so each dbt source resolves.
    assert copied(first, "stripe_event") == 0
    assert spark.sql("select count(*) from raw.stripe_event").first()[0] == 0

    again = copy_raw(raw_url, spark)
    assert all(r.copied == 0 for r in again)
    assert len(spark_rows(spark, "resend_event")) == 3

    land_resend(raw_url, "msg_4", DAY1 + timedelta(days=1))
    newer = copy_raw(raw_url, spark)
    assert copied(newer, "resend_event") == 1
    rows = spark_rows(spark, "resend_event")
    assert [r["svix_id"] for r in rows] == ["msg_1", "msg_2", "msg_3", "msg_4"]
    assert len({r["landing_id"] for r in rows}) == 4


def test_late_commit_below_the_watermark_is_copied_once(raw_url, spark):
    """Continues from the rows the test above landed and copied (module-scoped database and Spark)."""
    newest = spark_rows(spark, "resend_event")[-1]
    received = newest["received_at"].replace(tzinfo=timezone.utc)
    # Landing id +2 commits first; +1, received a minute earlier, commits after it was copied.
    land_resend(raw_url, "msg_fast", received + timedelta(minutes=3), landing_id=newest["landing_id"] + 2)
    assert copied(copy_raw(raw_url, spark), "resend_event") == 1
    land_resend(raw_url, "msg_late", received + timedelta(minutes=2), landing_id=newest["landing_id"] + 1)

    assert copied(copy_raw(raw_url, spark), "resend_event") == 1
    assert copied(copy_raw(raw_url, spark), "resend_event") == 0
    rows = spark_rows(spark, "resend_event")
    assert [r["svix_id"] for r in rows][-2:] == ["msg_late", "msg_fast"]
    assert len({r["landing_id"] for r in rows}) == len(rows) == 6
