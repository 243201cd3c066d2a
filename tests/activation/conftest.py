"""Activation: emails, Meta CAPI and audiences, outbound sequences, against local fake providers.

Shared fixtures (a migrated database per session, the ingest app and its client, `clean_raw`) live in
tests/conftest.py; helpers in tests/dbt_helpers.py, tests/activation_support.py and tests/fakes/.
"""
