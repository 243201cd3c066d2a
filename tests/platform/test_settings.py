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


# --- secrets never printed, every value checked, every missing one named at once ------

SECRET_ENV = ("DATABASE_URL", "RESEND_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "POSTHOG_WEBHOOK_SECRET",
              "CAL_WEBHOOK_SECRET", "CALENDLY_WEBHOOK_SIGNING_KEY", "TRACKING_LINK_SECRET", "GDP_API_TOKEN",
              "POSTHOG_API_KEY", "RESEND_API_KEY", "META_ACCESS_TOKEN", "GDP_NOTIFY_WEBHOOK_URL")


def test_repr_and_str_never_show_a_secret_value():
    values = {f.name: f"s3cr3t-{f.name}" for f in fields(Settings) if f.metadata["env"] in SECRET_ENV}
    values["database_url"] = "postgresql://gdp:hunter2-password@db.example:5432/gdp"
    settings = Settings(**values)
    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert "s3cr3t" not in text and "hunter2" not in text
        assert "resend_webhook_secret=" in text and "dbt_schema='analytics'" in text
    assert settings.as_env()["RESEND_WEBHOOK_SECRET"] == "s3cr3t-resend_webhook_secret"


@pytest.mark.parametrize("var, raw, reason", [
    ("GDP_DB_TIMEOUT_S", "three", "must be a number"),
    ("GDP_MAX_BODY_BYTES", "1.5", "must be an integer"),
    ("GDP_SENSOR_INTERVAL_S", "-30", "must be greater than 0"),
    ("GDP_ACTIVATION_RETRY_BASE_S", "-1", "must be 0 or more"),
    ("GDP_RATE_LIMIT_CAPI_PER_MIN", "-5", "must be 0 or more"),
    ("GDP_BLAST_RADIUS_SHARE", "1.5", "at most 1"),
])
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, var, raw, reason):
    from gdp.settings import InvalidSetting

    monkeypatch.setenv(var, raw)
    with pytest.raises(InvalidSetting, match=f"{var}.*{reason}"):
        Settings.from_env()


def test_every_bad_value_is_named_at_once(monkeypatch):
    from gdp.settings import InvalidSetting

    monkeypatch.setenv("GDP_DB_TIMEOUT_S", "soon")
    monkeypatch.setenv("GDP_EMAIL_CAP_PER_DAY", "-1")
    with pytest.raises(InvalidSetting) as excinfo:
        Settings.from_env()
    assert "GDP_DB_TIMEOUT_S" in str(excinfo.value) and "GDP_EMAIL_CAP_PER_DAY" in str(excinfo.value)


def test_the_app_names_every_missing_secret_at_once(database_url):
    from ingest_app import create_app

    with pytest.raises(MissingSetting) as excinfo:
        create_app(Settings(), {"DATABASE_URL": database_url})
    message = str(excinfo.value)
    for var in ("RESEND_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "POSTHOG_WEBHOOK_SECRET", "CAL_WEBHOOK_SECRET",
                "CALENDLY_WEBHOOK_SIGNING_KEY", "TRACKING_LINK_SECRET", "GDP_API_TOKEN"):
        assert var in message
    assert message.count("GDP_API_TOKEN") == 1


def test_env_example_lists_every_variable_with_a_comment():
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    variable = re.compile(r"^#? ?([A-Z][A-Z0-9_]+)=")
    listed = {}
    for i, line in enumerate(lines):
        match = variable.match(line)
        if match:
            listed[match.group(1)] = i
    assert sorted(set(ENV_VARS) - set(listed)) == []
    assert sorted(set(listed) - set(ENV_VARS)) == []
    for var, i in listed.items():
        assert i > 0 and lines[i - 1].startswith("# ") and not variable.match(lines[i - 1]), f"{var} has no comment"


def test_the_cli_names_a_bad_setting_without_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GDP_DB_TIMEOUT_S": "soon", "GDP_SENSOR_INTERVAL_S": "-1"}
    run = subprocess.run([sys.executable, "-m", "gdp.cli", "db", "url"], env=env, capture_output=True, text=True)
    assert run.returncode == 1
    assert "GDP_DB_TIMEOUT_S must be a number" in run.stderr and "GDP_SENSOR_INTERVAL_S" in run.stderr
    assert "Traceback" not in run.stderr


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
