"""Copy `raw.*` from Postgres into the Spark warehouse, incrementally and idempotently.

The operational side (ingest, raw, ledger, outbox) stays on Postgres whichever warehouse
builds; when Spark builds, this is the first step of the cycle. Each raw table becomes a
parquet table `raw.<table>` in the Spark catalog, partitioned by `received_date` (UTC day
of `received_at`), so dbt's sources read the same names on both engines.

Watermark: the copy resumes from what the Spark table already holds (its newest
`landing_id` and `received_at`), so a crashed or repeated run needs no state of its own.
Identity values are taken at insert but become visible at commit, so a row with a lower
`landing_id` can commit after a higher one was copied; rows received within `lookback` of
the newest copied row are read again and only landing ids Spark lacks are appended. The
watermarks of all tables cost two Spark queries; Postgres answers which rows are missing.
JSON stays JSON text (Spark has no jsonb); uuids, inets and arrays arrive as their text.
Tables that are state rather than landings (no `landing_id`: `auth.users`, activation's
send log, the outbox, deal annotations and ledger, the forget tombstones) are small and change in place
(a sign-in, a forget), so they are copied wholesale each run (`copy_snapshots`), which also
carries deletions over. In production the same step writes to object storage (a Databricks
external location), or the platform's own replication replaces it: docs/spark.md.

Forgetting (`apply_forgotten`, before the landings): `gdp person forget` deletes a person's
landings in Postgres and records each one in `raw.forgotten_landing` (table, landing id,
received_at, no personal data). The copy rewrites the affected `received_date` partitions
without them and then appends the records it applied to Spark's own `raw.forgotten_landing`,
whose highest `record_id` is its watermark. Spark cannot overwrite a partition it reads from,
so the kept rows are first written to a staging folder; a run that finds a complete one
(a crash mid-rewrite) restores its partitions from it first, and a rerun reapplies harmlessly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

PARTITION_COLUMN = "received_date"
# Landings `gdp person forget` deleted (supabase/migrations/*_forgotten_landing.sql); also the
# name of Spark's log of the ones it has applied.
FORGOTTEN_LANDINGS = "forgotten_landing"
DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_BATCH_ROWS = 50_000

# The dbt sources (and the tombstones) that are not append-only landings: copied whole.
SNAPSHOT_TABLES = (
    ("auth", "users"),
    ("activation", "email_send"),
    ("activation", "outbox"),
    ("activation", "deal_annotation"),
    ("activation", "membership_transition"),
    ("raw", "forgotten_identifier"),
    # The key of derived person ids (macros/identity.sql derived_person_id): Spark's identity
    # graph must derive the same ids. A secret: in production keep the warehouse's copy as
    # restricted as Postgres' (a secret scope, a schema only the dbt role reads).
    ("raw", "person_id_key"),
)

# Models Postgres still builds that a ported model reads, copied whole after Postgres' build
# into the Spark schema dbt builds in. None now: Spark builds the identity graph and
# identity_link itself (docs/spark.md); the step stays for a model a port may need again.
POSTGRES_MODELS: tuple[str, ...] = ()

# Postgres types that keep their type in Spark; everything else is copied as text.
_NATIVE = {
    "bigint": "bigint",
    "integer": "int",
    "smallint": "int",
    "boolean": "boolean",
    "double precision": "double",
    "real": "double",
    "numeric": "decimal(38, 9)",
    "date": "date",
    "timestamp with time zone": "timestamp",
    "timestamp without time zone": "timestamp",
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str

    @property
    def spark_type(self) -> str:
        return _NATIVE.get(self.pg_type, "string")

    @property
    def select(self) -> sql.Composable:
        ident = sql.Identifier(self.name)
        return ident if self.pg_type in _NATIVE else sql.SQL("{}::text as {}").format(ident, ident)


@dataclass(frozen=True)
class TableCopy:
    table: str
    copied: int
    landing_id_max: int | None


def table_columns(conn: psycopg.Connection, schema: str, kinds: tuple[str, ...] = ("BASE TABLE",)) -> dict[str, list[Column]]:
    """The base tables (or other `kinds`: 'VIEW') of `schema` with their columns in order."""
    rows = conn.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        join information_schema.tables as t using (table_schema, table_name)
        where c.table_schema = %s and t.table_type = any(%s)
        order by c.table_name, c.ordinal_position
        """,
        (schema, list(kinds)),
    ).fetchall()
    tables: dict[str, list[Column]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append(Column(column, data_type))
    return tables


def landed_tables(conn: psycopg.Connection, schema: str) -> dict[str, list[Column]]:
    """Tables of `schema` that carry `landing_id` and `received_at` (the append-only landings)."""
    tables = table_columns(conn, schema)
    return {
        table: columns
        for table, columns in tables.items()
        if {"landing_id", "received_at"} <= {c.name for c in columns}
    }


@dataclass(frozen=True)
class Watermark:
    """What a Spark table already holds: its newest landing id, and the landing ids received
    within the lookback of its newest `received_at` (the only ones a late commit can sit among)."""

    landing_id: int
    window_start: datetime
    recent_ids: frozenset[int]


def _from_micros(micros: int) -> datetime:
    # Read as integers: pyspark turns timestamps into the Python process' local time.
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


def watermarks(spark, schema: str, tables: list[str], lookback: timedelta) -> dict[str, Watermark]:
    """The watermark of every existing non-empty table, in two Spark queries whatever their number."""
    if not tables:
        return {}
    maxima = spark.sql(" union all ".join(
        f"select '{t}' as t, max(landing_id) as landing_id, unix_micros(max(received_at)) as received_micros"
        f" from `{schema}`.`{t}`" for t in tables
    )).collect()
    lookback_micros = lookback // timedelta(microseconds=1)
    bounds = {
        row["t"]: (row["landing_id"], row["received_micros"] - lookback_micros)
        for row in maxima if row["landing_id"] is not None
    }
    if not bounds:
        return {}
    recent: dict[str, set[int]] = {t: set() for t in bounds}
    window_query = " union all ".join(
        f"select '{t}' as t, landing_id from `{schema}`.`{t}`"
        f" where received_at > timestamp_micros({int(start)})"
        for t, (_, start) in bounds.items()
    )
    for row in spark.sql(window_query).collect():
        recent[row["t"]].add(row["landing_id"])
    return {t: Watermark(landing, _from_micros(start), frozenset(recent[t])) for t, (landing, start) in bounds.items()}


def copy_table(
    conn: psycopg.Connection,
    spark,
    schema: str,
    table: str,
    columns: list[Column],
    *,
    exists: bool,
    watermark: Watermark | None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> TableCopy:
    """Append the rows of one landing that Spark lacks (all of them when it holds none)."""
    target = f"`{schema}`.`{table}`"
    query = sql.SQL("select {cols} from {schema}.{table}").format(
        cols=sql.SQL(", ").join(c.select for c in columns),
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
    )
    params: tuple = ()
    if watermark is not None:
        query += sql.SQL(" where (landing_id > %s or received_at > %s) and not (landing_id = any(%s))")
        params = (watermark.landing_id, watermark.window_start, list(watermark.recent_ids))
    query += sql.SQL(" order by landing_id")

    landing_at = [c.name for c in columns].index("landing_id")
    schema_ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in columns)
    copied = 0
    newest = watermark.landing_id if watermark else None
    with conn.cursor(name=f"raw_copy_{table}") as cursor:
        cursor.execute(query, params)
        while batch := cursor.fetchmany(batch_rows):
            _write(spark.createDataFrame(batch, schema=schema_ddl), target, exists)
            exists = True
            copied += len(batch)
            newest = max(newest or 0, batch[-1][landing_at])
    if not exists:
        # An empty landing still becomes a table, so the dbt source it feeds exists.
        _write(spark.createDataFrame([], schema=schema_ddl), target, exists)
    return TableCopy(table, copied, newest)


def _write(frame, target: str, exists: bool) -> None:
    frame = frame.withColumn(PARTITION_COLUMN, frame["received_at"].cast("date"))
    writer = frame.write.format("parquet").partitionBy(PARTITION_COLUMN)
    writer.mode("append" if exists else "errorifexists").saveAsTable(target)


def copy_raw(url: str, spark, *, schema: str = "raw", lookback: timedelta = DEFAULT_LOOKBACK) -> list[TableCopy]:
    """Apply what `gdp forget` deleted, then copy every landed table of `schema` that has rows
    Spark lacks; returns one result per table (and one for the forget records applied, if any)."""
    spark.sql(f"create database if not exists `{schema}`")
    results = []
    with psycopg.connect(url) as conn:
        tables = landed_tables(conn, schema)
        existing = [t for t in tables if spark.catalog.tableExists(f"{schema}.{t}")]
        forgotten = apply_forgotten(conn, spark, schema, existing)
        if forgotten is not None:
            results.append(forgotten)
        marks = watermarks(spark, schema, existing, lookback)
        for table, columns in tables.items():
            result = copy_table(conn, spark, schema, table, columns, exists=table in existing, watermark=marks.get(table))
            log.info("raw copy %s.%s: %d new rows (landing_id up to %s)", schema, table, result.copied, result.landing_id_max)
            results.append(result)
    return results


# --- forgotten landings -----------------------------------------------------------------


def _stage_path(spark, schema: str, table: str) -> str:
    """Where the kept rows of a table's affected partitions wait while those are rewritten
    (`table` empty: the folder of all of them)."""
    return f"{spark.conf.get('spark.sql.warehouse.dir').rstrip('/')}/_forget_stage/" + (f"{schema}.{table}" if table else "")


def _hadoop_fs(spark, path: str, child: str | None = None):
    """The Hadoop file system and path (local here, object storage in production)."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    if child is not None:
        hpath = jvm.org.apache.hadoop.fs.Path(hpath, child)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def _rewrite_from_stage(spark, schema: str, table: str, dates: list) -> None:
    """Overwrite each of `dates` with the staged rows of that day (none: the partition empties)."""
    target = spark.table(f"`{schema}`.`{table}`")
    staged = spark.read.schema(target.schema).parquet(_stage_path(spark, schema, table))
    staged.createOrReplaceTempView("gdp_forget_stage")
    columns = ", ".join(f"`{c}`" for c in target.columns if c != PARTITION_COLUMN)
    for day in sorted(dates):
        spark.sql(
            f"insert overwrite table `{schema}`.`{table}` partition ({PARTITION_COLUMN} = '{day}')"
            f" select {columns} from gdp_forget_stage where {PARTITION_COLUMN} = date'{day}'"
        )
    spark.catalog.dropTempView("gdp_forget_stage")


def _recover_stage(spark, schema: str, table: str) -> None:
    """A complete staging folder (Hadoop's `_SUCCESS`) is left by a run that crashed while
    rewriting: its partitions are put back from it before anything else reads the table."""
    fs, path = _hadoop_fs(spark, _stage_path(spark, schema, table))
    if not fs.exists(path):
        return
    if fs.exists(_hadoop_fs(spark, _stage_path(spark, schema, table), "_SUCCESS")[1]):
        days = [r[0] for r in spark.read.schema(spark.table(f"`{schema}`.`{table}`").schema)
                .parquet(path.toString()).select(PARTITION_COLUMN).distinct().collect()]
        log.warning("raw copy %s.%s: restoring %d partition(s) a crashed forget rewrite left staged", schema, table, len(days))
        _rewrite_from_stage(spark, schema, table, days)
    fs.delete(path, True)


def _remove_landings(spark, schema: str, table: str, landings: list[tuple[int, datetime]]) -> int:
    """Rewrite the partitions of `table` that hold any of these (landing id, received_at) without them."""
    ids = ", ".join(str(int(landing_id)) for landing_id, _ in landings)
    days = ", ".join(sorted({f"cast(timestamp_micros({_micros(at)}) as date)" for _, at in landings}))
    # The same day expression as _write (the session's time zone), so the partitions prune.
    found = spark.sql(
        f"select {PARTITION_COLUMN} as day, count(*) as n from `{schema}`.`{table}`"
        f" where {PARTITION_COLUMN} in ({days}) and landing_id in ({ids}) group by 1"
    ).collect()
    if not found:
        return 0
    affected = [r["day"] for r in found]
    listed = ", ".join(f"date'{d}'" for d in affected)
    kept = spark.sql(
        f"select * from `{schema}`.`{table}` where {PARTITION_COLUMN} in ({listed}) and landing_id not in ({ids})"
    )
    kept.write.mode("overwrite").parquet(_stage_path(spark, schema, table))
    _rewrite_from_stage(spark, schema, table, affected)
    fs, path = _hadoop_fs(spark, _stage_path(spark, schema, table))
    fs.delete(path, True)
    removed = sum(r["n"] for r in found)
    log.info("raw copy %s.%s: forgot %d row(s), rewrote %d partition(s)", schema, table, removed, len(affected))
    return removed


def _micros(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def apply_forgotten(conn: psycopg.Connection, spark, schema: str, existing: list[str]) -> TableCopy | None:
    """Delete from Spark's copies (`existing` tables) the landings forget deleted since the last
    run; None when there is nothing to apply. Nothing forgotten ever costs one Postgres query."""
    log_table = f"`{schema}`.`{FORGOTTEN_LANDINGS}`"
    newest = conn.execute(
        sql.SQL("select max(record_id) from {}").format(sql.Identifier(schema, FORGOTTEN_LANDINGS))
    ).fetchone()[0]
    conn.commit()
    if newest is None:
        return None
    stages, root = _hadoop_fs(spark, _stage_path(spark, schema, ""))
    if stages.exists(root):
        for table in existing:
            _recover_stage(spark, schema, table)
    applied = 0
    if spark.catalog.tableExists(f"{schema}.{FORGOTTEN_LANDINGS}"):
        applied = spark.sql(f"select coalesce(max(record_id), 0) from {log_table}").first()[0]
    if applied >= newest:
        return None
    columns = table_columns(conn, schema)[FORGOTTEN_LANDINGS]
    records = conn.execute(
        sql.SQL("select {cols} from {t} where record_id > %s order by record_id").format(
            cols=sql.SQL(", ").join(c.select for c in columns), t=sql.Identifier(schema, FORGOTTEN_LANDINGS)),
        (applied,),
    ).fetchall()
    conn.commit()
    by_table: dict[str, list[tuple[int, datetime]]] = {}
    for record in (dict(zip([c.name for c in columns], row)) for row in records):
        by_table.setdefault(record["source_table"], []).append(
            (record["deleted_landing_id"], record["deleted_received_at"]))
    removed = sum(_remove_landings(spark, schema, table, landings)
                  for table, landings in sorted(by_table.items()) if table in existing)
    # Last: a crash before this line leaves the watermark behind, and the next run reapplies.
    schema_ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in columns)
    spark.createDataFrame(records, schema=schema_ddl).write.format("parquet").mode("append").saveAsTable(log_table)
    log.info("raw copy %s: applied %d forgotten landing(s), %d row(s) removed", log_table, len(records), removed)
    return TableCopy(f"{schema}.{FORGOTTEN_LANDINGS}", len(records), None)


def copy_snapshot(conn: psycopg.Connection, spark, schema: str, table: str, columns: list[Column]) -> TableCopy:
    """Replace Spark's copy of one state table with all of its current rows (unpartitioned)."""
    query = sql.SQL("select {cols} from {schema}.{table}").format(
        cols=sql.SQL(", ").join(c.select for c in columns),
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
    )
    rows = conn.execute(query).fetchall()
    schema_ddl = ", ".join(f"`{c.name}` {c.spark_type}" for c in columns)
    spark.sql(f"create database if not exists `{schema}`")
    spark.createDataFrame(rows, schema=schema_ddl).write.format("parquet").mode("overwrite").saveAsTable(
        f"`{schema}`.`{table}`"
    )
    return TableCopy(f"{schema}.{table}", len(rows), None)


def copy_snapshots(url: str, spark, tables: tuple[tuple[str, str], ...] = SNAPSHOT_TABLES,
                   kinds: tuple[str, ...] = ("BASE TABLE",)) -> list[TableCopy]:
    """Copy each state table that exists in Postgres whole; a table Postgres lacks is left out
    (its dbt model guards for a missing source, as on a database migrated before it existed).
    `kinds`: also views ('VIEW'), copied as a table of their rows at the time of the copy."""
    results = []
    with psycopg.connect(url) as conn:
        by_schema = {schema: table_columns(conn, schema, kinds) for schema in {s for s, _ in tables}}
        for schema, table in tables:
            columns = by_schema[schema].get(table)
            if columns is None:
                continue
            result = copy_snapshot(conn, spark, schema, table, columns)
            log.info("raw copy %s (whole): %d rows", result.table, result.copied)
            results.append(result)
    return results


def copy_postgres_models(url: str, spark, schema: str, models: tuple[str, ...] = POSTGRES_MODELS) -> list[TableCopy]:
    """Copy the models Postgres built that Spark's models read (POSTGRES_MODELS), each whole
    (a view, int_privacy__forgotten_persons, as its rows now)."""
    return copy_snapshots(url, spark, tuple((schema, model) for model in models), ("BASE TABLE", "VIEW"))
