"""Settings: one place, documented, typed."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from gdp.settings import REPO_ROOT, MissingSetting, Settings

ENV_VARS = [f.metadata["env"] for f in fields(Settings)]


def test_every_variable_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.M))
    assert sorted(set(ENV_VARS) - documented) == []
    assert sorted(documented - set(ENV_VARS)) == [], "README documents a variable the code never reads"


def test_no_module_reads_the_environment_behind_settings_back():
    offenders = []
    for path in list((REPO_ROOT / "gdp").rglob("*.py")) + list((REPO_ROOT / "ingest_app").rglob("*.py")) + list(
        (REPO_ROOT / "activation").rglob("*.py")
    ):
        text = path.read_text()
        for var in ENV_VARS:
            if re.search(rf"environ(?:\.get)?\(?\[?[\"']{var}[\"']", text) and path.name != "settings.py":
                if not re.search(rf"environ\[[\"']{var}[\"']\]\s*=", text):  # setting it for a child is fine
                    offenders.append(f"{path.relative_to(REPO_ROOT)} reads {var}")
    assert offenders == []


def test_typed_values_and_defaults(monkeypatch):
    monkeypatch.setenv("GDP_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("GDP_DB_TIMEOUT_S", "1.5")
    monkeypatch.setenv("GDP_DATA_DIR", "/tmp/gdp-x")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = Settings.from_env()
    assert s.max_body_bytes == 2048 and s.db_timeout_s == 1.5 and s.data_dir == Path("/tmp/gdp-x")
    assert s.dbt_schema == "analytics" and s.database_url is None


def test_require_names_the_variable():
    with pytest.raises(MissingSetting, match="RESEND_WEBHOOK_SECRET is not set"):
        Settings().require("resend_webhook_secret", "needed")


def test_the_products_meta_variable_is_the_same_token(monkeypatch):
    from gdp.settings import env_name

    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("META_CAPI_ACCESS_TOKEN", "EAAB-capi")
    assert Settings.from_env().meta_access_token == "EAAB-capi"
    assert env_name("meta_access_token") == "META_CAPI_ACCESS_TOKEN", "Dagster's EnvVar names the variable that is set"
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAB-capi")
    assert Settings.from_env().meta_access_token == "EAAB-capi"
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAB-other")
    with pytest.raises(ValueError, match="META_ACCESS_TOKEN and META_CAPI_ACCESS_TOKEN are both set, to different values"):
        Settings.from_env()


def test_supabase_url_without_database_url_is_refused_not_the_embedded_database():
    from gdp import db as gdb

    with pytest.raises(MissingSetting, match="DATABASE_URL is not set: SUPABASE_URL is set") as refused:
        gdb.database_url(Settings(supabase_url="https://abcd.supabase.co"))
    assert "connection string" in str(refused.value)
    url = "postgresql://u:p@db.abcd.supabase.co:5432/postgres"
    assert gdb.database_url(Settings(supabase_url="https://abcd.supabase.co", database_url=url)) == url


def test_supabase_admin_and_posthog_personal_keys_never_show_in_repr(monkeypatch):
    monkeypatch.setenv("SUPABASE_URL", "https://abcd.supabase.co")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "eyJ-service-role-secret")
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "phx_personal_secret")
    s = Settings.from_env()
    assert s.supabase_url == "https://abcd.supabase.co" and s.supabase_service_role_key == "eyJ-service-role-secret"
    assert "eyJ-service-role-secret" not in repr(s) and "phx_personal_secret" not in repr(s)


def test_posthog_pull_takes_the_personal_key_and_refuses_the_project_key():
    assert Settings(posthog_personal_api_key="phx_new", posthog_api_key="phc_project").posthog_query_key() == ("phx_new", None)
    key, warning = Settings(posthog_api_key="phx_old").posthog_query_key()
    assert key == "phx_old" and "rename it POSTHOG_PERSONAL_API_KEY" in warning
    with pytest.raises(MissingSetting, match="POSTHOG_PERSONAL_API_KEY is not set: POSTHOG_API_KEY holds the project key"):
        Settings(posthog_api_key="phc_project").posthog_query_key()
    with pytest.raises(MissingSetting, match="POSTHOG_PERSONAL_API_KEY is not set"):
        Settings().posthog_query_key()
