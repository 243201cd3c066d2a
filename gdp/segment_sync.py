"""`segment_member` built on Spark back into Postgres, the ledger's input (docs/spark.md).

With the Spark warehouse (GDP_WAREHOUSE=spark) the segments are built on Spark; the ledger,
activation and the activation marts stay on Postgres and read `<schema>.segment_member` there.
After a green Spark build the cycle calls `sync_segment_member` once: Spark's rows are staged
in a temporary table and compared with Postgres' by key (segment, person_id), and only the
difference is written, in one transaction: rows Spark no longer has are deleted, new rows
inserted, rows whose `qualified_at` or `context` (compared as jsonb, so key order and spacing
do not count) changed are updated. A second sync with nothing changed writes nothing, so a
repeated or resumed cycle is harmless; the ledger then diffs the synced table as always.

The staging reads Spark's rows into this process (segment membership is one row per person
and segment, far smaller than the event history); at a size where that stops being cheap,
Spark writes the rows to object storage and Postgres loads them (or the platform's reverse
ETL replaces this step).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

# The columns and types of segment_member (its contract, models/segments/_segments.yml).
COLUMNS = ("segment", "person_id", "qualified_at", "context")


@dataclass
class SegmentSync:
    spark_rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    elapsed_s: float = 0.0

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.deleted

    def summary(self) -> str:
        return (f"segment_member sync into Postgres: {self.spark_rows} rows on Spark; {self.inserted} inserted, "
                f"{self.updated} updated, {self.deleted} deleted in {self.elapsed_s:.1f}s")


def spark_segment_rows(spark, schema: str) -> list[tuple]:
    """Spark's segment_member, instants as UTC ISO text (the session is UTC; pyspark would
    turn timestamps into the local zone)."""
    frame = spark.sql(
        f"select segment, person_id, date_format(qualified_at, \"yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX\") as qualified_at,"
        f" context from `{schema}`.`segment_member`"
    )
    return [tuple(row) for row in frame.collect()]


def ensure_segment_member(conn: psycopg.Connection, schema: str) -> None:
    """The table as dbt's model creates it (the Postgres build owns it; this only covers a
    database whose first cycle ran with the Spark warehouse)."""
    conn.execute(sql.SQL(
        "create table if not exists {}.segment_member"
        " (segment text, person_id text, qualified_at timestamptz, context jsonb)"
    ).format(sql.Identifier(schema)))
    conn.execute(sql.SQL(
        "create unique index if not exists segment_member_pk on {}.segment_member (segment, person_id)"
    ).format(sql.Identifier(schema)))


def sync_segment_member(url: str, spark, schema: str) -> SegmentSync:
    started = time.perf_counter()
    rows = spark_segment_rows(spark, schema)
    result = SegmentSync(spark_rows=len(rows))
    target = sql.Identifier(schema, "segment_member")
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        ensure_segment_member(conn, schema)
        conn.execute(
            "create temp table spark_segment_member"
            " (segment text, person_id text, qualified_at timestamptz, context jsonb) on commit drop"
        )
        with conn.cursor().copy(
            "copy spark_segment_member (segment, person_id, qualified_at, context) from stdin"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute("create unique index on spark_segment_member (segment, person_id)")
        result.deleted = conn.execute(sql.SQL(
            "delete from {} as m where not exists (select 1 from spark_segment_member as s"
            " where s.segment = m.segment and s.person_id = m.person_id)"
        ).format(target)).rowcount
        result.updated = conn.execute(sql.SQL(
            "update {} as m set qualified_at = s.qualified_at, context = s.context"
            " from spark_segment_member as s"
            " where s.segment = m.segment and s.person_id = m.person_id"
            " and (m.qualified_at, m.context) is distinct from (s.qualified_at, s.context)"
        ).format(target)).rowcount
        result.inserted = conn.execute(sql.SQL(
            "insert into {} (segment, person_id, qualified_at, context)"
            " select s.segment, s.person_id, s.qualified_at, s.context from spark_segment_member as s"
            " where not exists (select 1 from {} as m where m.segment = s.segment and m.person_id = s.person_id)"
        ).format(target, target)).rowcount
    result.elapsed_s = time.perf_counter() - started
    return result
