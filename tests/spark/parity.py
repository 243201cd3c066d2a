"""What the parity tests share: a demo world landed through the real ingest app, and each
engine's rows of a model in one comparable form (JSON parsed, instants as UTC text)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import psycopg

from tools.simulate.sender import Sender
from tools.simulate.world import World


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


def event_counts(url: str, spark) -> tuple[Counter, int, Counter, int]:
    """`event` rows per event_type and rows linked to a person: Postgres' then Spark's."""
    with psycopg.connect(url) as conn:
        on_postgres = Counter(dict(conn.execute(
            "select event_type, count(*) from analytics.event group by event_type").fetchall()))
        linked_pg = conn.execute("select count(*) from analytics.event where person_id is not null").fetchone()[0]
    on_spark = Counter({r[0]: r[1] for r in spark.sql(
        "select event_type, count(*) from analytics.event group by event_type").collect()})
    linked_spark = spark.sql("select count(*) from analytics.event where person_id is not null").collect()[0][0]
    return on_postgres, linked_pg, on_spark, linked_spark


def plain(value):
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


def json_text(value):
    return None if value is None else json.dumps(json.loads(value), sort_keys=True)


def postgres_rows(url: str, table: str) -> tuple[list[str], list[tuple]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(f"select * from analytics.{table}")
        columns = [d.name for d in cursor.description]
        return columns, sorted((tuple(plain(v) for v in row) for row in cursor), key=repr)


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
            json_text(value) if name in json_columns else plain(value) for name, value in zip(columns, row)
        ))
    return columns, sorted(rows, key=repr)


def json_columns_of(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'analytics'"
            " and table_name = %s and data_type in ('jsonb', 'json')", (table,)
        )}
