"""Apply `supabase/migrations/*.sql` in file-name order, each exactly once.

The same files are what `supabase db push` applies in production, and both
record them in the Supabase CLI's own ledger, `supabase_migrations.schema_migrations`
(version = the file's timestamp prefix, name = the rest, statements = the SQL), so
a file either tool applied is skipped by the other. The CLI keeps no checksum;
this runner keeps one per version in `supabase_migrations.gdp_migration_checksums`
so an edited, already applied migration is reported instead of silently ignored
(a version the CLI applied gets its checksum the first time this runner sees it).

Both tables are closed to Supabase's client roles (revoked, row-level security
without policies): a client that could insert a future version would make it
be skipped. Rows (and checksums) of the older `public.gdp_schema_migrations` are moved
over once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from gdp.settings import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "supabase" / "migrations"

# Serializes concurrent `gdp db init` runs against one database.
_LOCK_KEY = 7_412_001

_LEDGER_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text not null primary key,
    statements text[],
    name text
);
create table if not exists supabase_migrations.gdp_migration_checksums (
    version text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
);
alter table supabase_migrations.schema_migrations enable row level security;
alter table supabase_migrations.gdp_migration_checksums enable row level security;
do $$
declare client text;
begin
    foreach client in array array['anon', 'authenticated'] loop
        if exists (select 1 from pg_roles where rolname = client) then
            execute format('revoke all on schema supabase_migrations from %I', client);
            execute format('revoke all on all tables in schema supabase_migrations from %I', client);
        end if;
    end loop;
end
$$;
revoke all on schema supabase_migrations from public;
revoke all on all tables in schema supabase_migrations from public;
"""

_MOVE_OLD_LEDGER = """
insert into supabase_migrations.schema_migrations (version, statements, name)
select split_part(filename, '_', 1), null, regexp_replace(substr(filename, strpos(filename, '_') + 1), '\\.sql$', '')
from public.gdp_schema_migrations
on conflict (version) do nothing
"""


class MigrationChanged(RuntimeError):
    pass


@dataclass
class MigrationResult:
    applied: list[str]
    skipped: list[str]


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_and_name(path: Path) -> tuple[str, str]:
    """`20261125000100_schemas_and_roles.sql` -> ('20261125000100', 'schemas_and_roles'), as the CLI reads it."""
    version, _, name = path.stem.partition("_")
    return version, name


class DuplicateMigrationVersion(RuntimeError):
    """Two files share a timestamp prefix: the ledger keys on it, so one would never apply."""


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    files = sorted(directory.glob("*.sql"))
    seen: dict[str, Path] = {}
    for path in files:
        version, _ = version_and_name(path)
        if version in seen:
            raise DuplicateMigrationVersion(
                f"migrations {seen[version].name} and {path.name} share version {version}: give one a later timestamp")
        seen[version] = path
    return files


def _prepare_ledger(conn: psycopg.Connection, files: list[Path]) -> None:
    with conn.transaction():
        conn.execute(_LEDGER_DDL)
        if conn.execute("select to_regclass('public.gdp_schema_migrations')").fetchone()[0]:
            conn.execute(_MOVE_OLD_LEDGER)
            conn.execute(
                "insert into supabase_migrations.gdp_migration_checksums (version, checksum, applied_at)"
                " select split_part(filename, '_', 1), checksum, applied_at from public.gdp_schema_migrations"
                " on conflict (version) do nothing"
            )
            # The old ledger kept no SQL: moved rows get the file's text, as the CLI would have stored it.
            for path in files:
                version, _ = version_and_name(path)
                conn.execute(
                    "update supabase_migrations.schema_migrations set statements = %s"
                    " where version = %s and statements is null",
                    ([path.read_text()], version),
                )
            conn.execute("drop table public.gdp_schema_migrations")


def apply_migrations(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationResult:
    result = MigrationResult(applied=[], skipped=[])
    files = migration_files(directory)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _prepare_ledger(conn, files)
            done = {r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations")}
            checksums = dict(conn.execute(
                "select version, checksum from supabase_migrations.gdp_migration_checksums").fetchall())
            for path in files:
                version, name = version_and_name(path)
                checksum = _checksum(path)
                if version in done:
                    if version not in checksums:
                        conn.execute(
                            "insert into supabase_migrations.gdp_migration_checksums (version, checksum)"
                            " values (%s, %s) on conflict do nothing",
                            (version, checksum),
                        )
                    elif checksums[version] != checksum:
                        raise MigrationChanged(
                            f"{path.name} was edited after it was applied; add a new migration instead"
                        )
                    result.skipped.append(path.name)
                    continue
                text = path.read_text()
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, statements, name)"
                        " values (%s, %s, %s)",
                        (version, [text], name),
                    )
                    conn.execute(
                        "insert into supabase_migrations.gdp_migration_checksums (version, checksum) values (%s, %s)",
                        (version, checksum),
                    )
                result.applied.append(path.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return result
