"""Ingest: the Flask app's endpoints, the PostHog backfill, lead and deal imports, and the one landing into raw.

Shared fixtures (a migrated database per session, the ingest app and its client, `clean_raw`) live in
tests/conftest.py; helpers in tests/dbt_helpers.py, tests/activation_support.py and tests/fakes/.
"""
