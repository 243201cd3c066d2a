"""Orchestration: the Dagster definitions, sensor, schedule, checks and the webserver.

Shared fixtures (a migrated database per session, the ingest app and its client, `clean_raw`) live in
tests/conftest.py; helpers in tests/dbt_helpers.py, tests/activation_support.py and tests/fakes/.
"""
