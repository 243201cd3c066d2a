"""Warehouse: the dbt project built for real on raw rows that came in through the real endpoints.

Shared fixtures (a migrated database per session, the ingest app and its client, `clean_raw`) live in
tests/conftest.py; helpers in tests/dbt_helpers.py, tests/activation_support.py and tests/fakes/.
"""
