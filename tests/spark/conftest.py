"""Spark for the tests: one local SparkSession per test session (its start costs seconds).

dbt runs in this process (dbtRunner), so dbt-spark's session method finds this session
through `getOrCreate` instead of starting a JVM of its own; the raw copy uses it too.
Every test here is marked `spark`.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from gdp.db import dbt_env
from gdp.settings import REPO_ROOT
from gdp.spark import SPARK_DIR_ENV, spark_session


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("spark")


@pytest.fixture(scope="session")
def spark(spark_dir: Path):
    started = time.perf_counter()
    session = spark_session(spark_dir)
    print(f"\nspark session start: {time.perf_counter() - started:.1f} s")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def empty_spark_raw(spark):
    """The session's Spark `raw` database is shared by every module that copies into it:
    each starts from none, so one module's landings never appear in another's copy."""
    spark.sql("drop database if exists `raw` cascade")
    yield
    spark.sql("drop database if exists `raw` cascade")


@contextmanager
def patched_environ(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_in_process(args: list[str], target: str, env: dict[str, str], target_path: Path):
    """One dbt invocation in this process (so a Spark target reuses the test session)."""
    from dbt.cli.main import dbtRunner

    argv = [*args, "--target", target, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT),
            "--target-path", str(target_path)]
    with patched_environ({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_PATH": str(target_path / "logs"), **env}):
        result = dbtRunner().invoke(argv)
    assert result.success, f"dbt {' '.join(args[:1])} on {target} failed: {result.exception}"
    return result


@pytest.fixture(scope="session")
def spark_dbt_env(spark, spark_dir: Path) -> dict[str, str]:
    return {SPARK_DIR_ENV: str(spark_dir), "GDP_DBT_SCHEMA": "analytics"}


@pytest.fixture(scope="session")
def postgres_dbt_env(database_url: str) -> dict[str, str]:
    return {**dbt_env(database_url), "GDP_DBT_SCHEMA": "analytics"}
