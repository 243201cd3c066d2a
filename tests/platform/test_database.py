"""Migrations, the embedded server, and row-level security against Supabase's roles."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from gdp import db as gdb
from gdp.migrate import MigrationChanged, apply_migrations, migration_files

LEDGER = "supabase_migrations.schema_migrations"


@contextmanager
def empty_database(server_url):
    name = f"gdp_mig_{uuid.uuid4().hex[:10]}"
    url = gdb.create_database(server_url, name)
    try:
        yield url
    finally:
        gdb.drop_database(server_url, name)


def _version_and_name(path):
    version, _, name = path.stem.partition("_")
    return version, name


def test_migrations_are_idempotent_and_recorded_in_supabase_s_own_ledger(database_url):
    again = apply_migrations(database_url)
    assert again.applied == []
    assert again.skipped == [p.name for p in migration_files()]
    with psycopg.connect(database_url) as conn:
        recorded = conn.execute(f"select version, name, statements from {LEDGER} order by 1").fetchall()
        old_ledger = conn.execute("select to_regclass('public.gdp_schema_migrations')").fetchone()[0]
    assert [(v, n) for v, n, _ in recorded] == [_version_and_name(p) for p in migration_files()]
    assert all(statements and all(s.strip() for s in statements) for _, _, statements in recorded)
    assert old_ledger is None


def test_migrations_pushed_by_the_supabase_cli_are_not_applied_again(server_url):
    """What `supabase db push` leaves behind: its table, one row per file, the file's statements."""
    files = migration_files()
    with empty_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create schema supabase_migrations")
            conn.execute(f"create table {LEDGER} (version text not null primary key, statements text[], name text)")
            for path in files[:3]:
                conn.execute(path.read_text())
                version, name = _version_and_name(path)
                conn.execute(f"insert into {LEDGER} (version, statements, name) values (%s, %s, %s)",
                             (version, [path.read_text()], name))
        result = apply_migrations(url)
        assert result.skipped == [p.name for p in files[:3]]
        assert result.applied == [p.name for p in files[3:]]
        with psycopg.connect(url) as conn:
            assert conn.execute(f"select count(*) from {LEDGER}").fetchone()[0] == len(files)


def test_an_older_gdp_ledger_is_moved_into_supabase_s(server_url, tmp_path):
    files = migration_files()
    with empty_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table public.gdp_schema_migrations (filename text primary key, checksum text not null,"
                         " applied_at timestamptz not null default now())")
            for path in files:
                conn.execute(path.read_text())
                conn.execute("insert into public.gdp_schema_migrations (filename, checksum) values (%s, %s)",
                             (path.name, hashlib.sha256(path.read_bytes()).hexdigest()))
            # The moved checksums still guard the files: an edit after the move is reported.
        result = apply_migrations(url)
        assert result.applied == [] and result.skipped == [p.name for p in files]
        edited = tmp_path / files[0].name
        edited.write_text(files[0].read_text() + "\n-- edited\n")
        with pytest.raises(MigrationChanged, match=files[0].name):
            apply_migrations(url, tmp_path)
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute(f"select version from {LEDGER} order by 1")]
            assert conn.execute("select to_regclass('public.gdp_schema_migrations')").fetchone()[0] is None
        assert versions == [_version_and_name(p)[0] for p in files]


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_can_neither_read_nor_insert_into_the_migration_ledger(server_url, role):
    """Under Supabase's default grants on `public`, a client role could otherwise record a future
    migration as applied so it is skipped."""
    with empty_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for name in ("anon", "authenticated"):
                conn.execute(f"do $$ begin if not exists (select 1 from pg_roles where rolname = '{name}') then"
                             f" create role {name} nologin noinherit; end if; end $$")
            conn.execute("grant usage on schema public to anon, authenticated")
            conn.execute("alter default privileges in schema public grant all on tables to anon, authenticated")
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            ledgers = [r[0] for r in conn.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables"
                " where tablename in ('schema_migrations', 'gdp_schema_migrations', 'gdp_migration_checksums')")]
            for table in ledgers:
                for statement in (f"select * from {table}",
                                  f"insert into {table} default values"):
                    with conn.transaction():
                        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                        with pytest.raises(psycopg.errors.InsufficientPrivilege):
                            with conn.transaction():
                                conn.execute(statement)
            assert LEDGER in ledgers
            rls = conn.execute("select bool_and(relrowsecurity) from pg_class where oid = any(%s::regclass[])",
                               (ledgers,)).fetchone()[0]
            assert rls


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


def test_two_migrations_with_one_version_are_refused_before_anything_applies(tmp_path):
    """The ledger keys on the timestamp prefix: a second file with the same one would be skipped silently."""
    from gdp.migrate import DuplicateMigrationVersion, migration_files

    (tmp_path / "20260101000100_first.sql").write_text("select 1;")
    (tmp_path / "20260101000100_second.sql").write_text("select 2;")
    with pytest.raises(DuplicateMigrationVersion, match="20260101000100_first.sql and 20260101000100_second.sql share version"):
        migration_files(tmp_path)


def test_the_repository_migrations_have_distinct_versions():
    from gdp.migrate import migration_files

    assert len(migration_files()) > 10
