"""`supabase db push` (the real CLI, from npm) and `gdp db init` share one migration ledger.

Each test gets a new database on the test server; the CLI reaches it by the same URL the
project uses (the embedded server's unix socket, or DATABASE_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from gdp.migrate import apply_migrations, migration_files, version_and_name
from gdp.settings import REPO_ROOT
from tests import supabase_cli
from tests.platform.test_database import LEDGER, empty_database

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def _push(workdir, url, home) -> str:
    done = supabase_cli.run(workdir, "db", "push", f"--remote={supabase_cli.cli_url(url)}", home=home)
    return done.stdout + done.stderr


def _applied_by_cli(output: str) -> list[str]:
    return [line.split()[2].rstrip(".") for line in output.splitlines() if line.startswith("Applying migration ")]


def _ledger(url) -> list[str]:
    with psycopg.connect(url) as conn:
        return [v for (v,) in conn.execute(f"select version from {LEDGER} order by 1")]


def _gdp_db_init(url) -> str:
    """The command a user runs, against this database."""
    done = subprocess.run([sys.executable, "-m", "gdp.cli", "db", "init"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _next_version() -> int:
    """Later than every repository migration, as a new file always is (the CLI refuses older ones)."""
    return int(max(version_and_name(p)[0] for p in migration_files())) + 1


def test_the_pinned_cli_installs_from_npm_and_runs(home):
    done = supabase_cli.run(REPO_ROOT, "--version", home=home)
    assert done.stdout.strip() == "3.1.0"


def test_after_supabase_db_push_gdp_db_init_applies_nothing(server_url, tmp_path, home):
    files = migration_files()
    workdir = supabase_cli.project(tmp_path / "project", files)
    with empty_database(server_url) as url:
        output = _push(workdir, url, home)
        assert _applied_by_cli(output) == [p.name for p in files]
        with psycopg.connect(url) as conn:
            assert conn.execute("select to_regclass('activation.outbox')").fetchone()[0] == "activation.outbox"

        assert f"0 applied, {len(files)} already applied" in _gdp_db_init(url)
        assert _ledger(url) == [version_and_name(p)[0] for p in files]


def test_after_gdp_db_init_supabase_db_push_applies_nothing(server_url, tmp_path, home):
    files = migration_files()
    workdir = supabase_cli.project(tmp_path / "project", files)
    with empty_database(server_url) as url:
        assert f"{len(files)} applied, 0 already applied" in _gdp_db_init(url)
        output = _push(workdir, url, home)
        assert _applied_by_cli(output) == []
        assert "Remote database is up to date." in output
        assert _ledger(url) == [version_and_name(p)[0] for p in files]


def test_a_new_migration_applied_by_either_tool_is_skipped_by_the_other(server_url, tmp_path, home):
    workdir = supabase_cli.project(tmp_path / "project", migration_files())
    migrations = workdir / "supabase" / "migrations"
    version = _next_version()
    by_cli = migrations / f"{version}_probe_by_cli.sql"
    by_gdp = migrations / f"{version + 1}_probe_by_gdp.sql"
    with empty_database(server_url) as url:
        apply_migrations(url)

        by_cli.write_text("create table raw.probe_by_cli (probe_id bigint primary key);\n")
        assert _applied_by_cli(_push(workdir, url, home)) == [by_cli.name]
        seen = apply_migrations(url, migrations)
        assert seen.applied == []
        assert by_cli.name in seen.skipped

        by_gdp.write_text("alter table raw.probe_by_cli add column noted_at timestamptz;\n")
        assert apply_migrations(url, migrations).applied == [by_gdp.name]
        output = _push(workdir, url, home)
        assert _applied_by_cli(output) == []
        assert "Remote database is up to date." in output

        with psycopg.connect(url) as conn:
            columns = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'raw' and table_name = 'probe_by_cli' order by ordinal_position")]
        assert columns == ["probe_id", "noted_at"]
        assert _ledger(url)[-2:] == [str(version), str(version + 1)]


def test_the_session_test_database_is_up_to_date_for_the_cli(database_url, tmp_path, home):
    """The database every other test uses, migrated by `gdp db init`'s runner: the CLI has nothing to push."""
    workdir = supabase_cli.project(tmp_path / "project", migration_files())
    done = supabase_cli.run(workdir, "db", "push", "--dry-run", f"--remote={supabase_cli.cli_url(database_url)}", home=home)
    assert "Remote database is up to date." in done.stdout + done.stderr
