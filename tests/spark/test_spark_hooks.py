"""dbt's run hooks work on Spark: identifier normalization exists there with the same rules.

`dbt seed` runs the on-run-start / on-run-end hooks of dbt_project.yml. On Postgres they
create the plpgsql normalization function and revoke client roles; on Spark they create
the same rules as SQL functions and revoke nothing. The same identifiers must normalize to
the same values on both engines.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from gdp.db import dbt_env
from tests.dbt_helpers import private_database
from tests.spark.conftest import dbt_in_process

IDENTIFIERS = [
    ("email", " Ada <Ada@X.org> "),
    ("email", "ADA@x.org"),
    ("email", "o'neil@x.org"),
    ("email", "test@test.com"),
    ("email", "noreply@foo.com"),
    ("email", "someone@mailinator.com"),
    ("email", "not-an-email"),
    ("email", "a@b"),
    ("email", "two@@x.org"),
    ("email", None),
    ("posthog_distinct_id", "  abc "),
    ("posthog_distinct_id", "undefined"),
    ("posthog_distinct_id", "Anonymous"),
    ("posthog_distinct_id", ""),
    ("stripe_customer", "cus_123"),
]


def _literal(value: str | None) -> str:
    return "null" if value is None else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="module")
def seeded_spark(spark, spark_dbt_env, tmp_path_factory):
    started = time.perf_counter()
    dbt_in_process(["seed"], "spark", spark_dbt_env, tmp_path_factory.mktemp("dbt_seed_spark"))
    print(f"\ndbt seed on spark (session already up, hooks included): {time.perf_counter() - started:.1f} s")
    return spark


@pytest.fixture(scope="module")
def postgres_normalized(server_url, tmp_path_factory):
    with private_database(server_url) as url:
        env = {**dbt_env(url), "GDP_DBT_SCHEMA": "analytics"}
        dbt_in_process(["seed"], "default", env, tmp_path_factory.mktemp("dbt_seed_pg"))
        with psycopg.connect(url) as conn:
            yield [
                conn.execute("select analytics.gdp_normalize_identifier(%s, %s)", (kind, value)).fetchone()[0]
                for kind, value in IDENTIFIERS
            ]


def test_seeds_load_on_spark(seeded_spark):
    assert seeded_spark.sql("select count(*) from analytics.event_type_map").first()[0] > 0


def test_identifier_normalization_matches_postgres(seeded_spark, postgres_normalized):
    query = " union all ".join(
        f"select {i} as i, analytics.gdp_normalize_identifier('{kind}', {_literal(value)}) as v"
        for i, (kind, value) in enumerate(IDENTIFIERS)
    )
    on_spark = [row["v"] for row in seeded_spark.sql(query + " order by i").collect()]
    assert on_spark == postgres_normalized
    assert on_spark[:3] == ["ada@x.org", "ada@x.org", "o'neil@x.org"]
    assert on_spark[3:10] == [None] * 7
    assert on_spark[10:] == ["abc", None, None, None, "cus_123"]
