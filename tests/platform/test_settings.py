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
