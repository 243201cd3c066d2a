"""Migrations, the embedded server, and row-level security against Supabase's roles."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from gdp.migrate import MigrationChanged, apply_migrations, migration_files


def test_migrations_are_idempotent_and_recorded(database_url):
    again = apply_migrations(database_url)
    assert again.applied == []
    assert again.skipped == [p.name for p in migration_files()]
    with psycopg.connect(database_url) as conn:
        recorded = [r[0] for r in conn.execute("select filename from public.gdp_schema_migrations order by 1")]
    assert recorded == [p.name for p in migration_files()]


def test_an_edited_applied_migration_is_reported(database_url, tmp_path):
    first = migration_files()[0]
    (tmp_path / first.name).write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationChanged, match=first.name):
        apply_migrations(database_url, tmp_path)


def test_every_raw_and_activation_table_has_row_level_security(conn):
    rows = conn.execute(
        """
        select n.nspname || '.' || c.relname, c.relrowsecurity
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('raw', 'activation', 'auth') and c.relkind = 'r'
        """
    ).fetchall()
    assert rows, "no tables found in raw/activation"
    assert [name for name, rls in rows if not rls] == []
    policies = conn.execute(
        "select count(*) from pg_policies where schemaname in ('raw', 'activation')"
    ).fetchone()[0]
    assert policies == 0


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_supabase_client_roles_can_neither_read_nor_write(conn, role):
    tables = conn.execute(
        "select schemaname, tablename from pg_tables where schemaname in ('raw', 'activation')"
    ).fetchall()
    for schema, table in tables:
        ident = sql.Identifier(schema, table)
        for statement in (
            sql.SQL("select * from {} limit 1").format(ident),
            sql.SQL("delete from {}").format(ident),
        ):
            with conn.transaction():
                conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with conn.transaction():
                        conn.execute(statement)


def test_gdp_db_url_prints_a_working_url():
    url = subprocess.run(
        [sys.executable, "-m", "gdp.cli", "db", "url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
