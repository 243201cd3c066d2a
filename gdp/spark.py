"""The local Apache Spark the `spark` dbt target runs on, for the Python steps that share it.

dbt-spark's session method builds its SparkSession from `profiles.yml` (target `spark`);
the raw copy and the tests must open the very same catalog (warehouse folder and Derby
metastore), so the configuration is read from that profile instead of being written twice.
An in-process SparkSession is reused by dbt-spark (`getOrCreate`), which is how the tests
pay Spark's start once. pyspark is the optional extra `[spark]`.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gdp.settings import REPO_ROOT

SPARK_DIR_ENV = "GDP_SPARK_DIR"
_SPARK_DIR_REF = re.compile(r"\{\{\s*env_var\('" + SPARK_DIR_ENV + r"'[^}]*\}\}")


def spark_conf(directory: Path) -> dict[str, str]:
    """The `spark` target's server_side_parameters with the Spark folder filled in."""
    profile = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())
    params = profile["gdp"]["outputs"]["spark"]["server_side_parameters"]
    conf = {key: _SPARK_DIR_REF.sub(str(directory), str(value)) for key, value in params.items()}
    # dbt-spark forces ANSI off on its sessions; a session it reuses must agree.
    conf["spark.sql.ansi.enabled"] = "false"
    return conf


def spark_session(directory: Path):
    """The SparkSession of the local warehouse under `directory` (started once per process)."""
    from pyspark.sql import SparkSession

    directory.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("gdp").enableHiveSupport()
    for key, value in spark_conf(directory).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
