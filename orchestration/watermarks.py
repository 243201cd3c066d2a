"""Raw high-water marks: max(landing_id) per raw table, the one measure of "what has landed".

The sensor's cursor is a set of marks; each pipeline cycle `gdp refresh` (and the
demo) runs records the marks it built from in `activation.pipeline_cycle.raw_marks`,
so a sensor starting without a cursor begins where that cycle left off instead of
re-running everything the demo or the last refresh already built. No Dagster here:
`gdp refresh` imports this without paying for Dagster's start-up.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

RAW_SCHEMA = "raw"


def raw_high_water_marks(url: str, schema: str = RAW_SCHEMA) -> dict[str, int]:
    """max(landing_id) per raw table; tables listed from information_schema, so a new one is watched."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.columns"
                " where table_schema = %s and column_name = 'landing_id' order by table_name",
                (schema,),
            )
        ]
        if not tables:
            return {}
        query = sql.SQL(" union all ").join(
            sql.SQL("select {name}::text, coalesce(max(landing_id), 0)::bigint from {table}").format(
                name=sql.Literal(table), table=sql.Identifier(schema, table)
            )
            for table in tables
        )
        return {name: int(mark) for name, mark in conn.execute(query)}


def record_cycle_marks(url: str, cycle_id: str, marks: dict[str, int]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update activation.pipeline_cycle set raw_marks = %s where cycle_id = %s", (Jsonb(marks), cycle_id))


def last_cycle_marks(url: str) -> dict[str, int] | None:
    """The marks of the newest succeeded cycle that recorded them (None before the first)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select raw_marks from activation.pipeline_cycle where status = 'succeeded' and raw_marks is not null"
            " order by started_at desc, cycle_id desc limit 1"
        ).fetchone()
    return {str(k): int(v) for k, v in row[0].items()} if row else None
