"""Apply `supabase/migrations/*.sql` in file-name order, each exactly once.

The same files are what `supabase db push` applies in production; locally this
runner records each applied file (and its checksum) in
`public.gdp_schema_migrations`, so re-running is a no-op and an edited, already
applied migration is reported instead of silently ignored.
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


class MigrationChanged(RuntimeError):
    pass


@dataclass
class MigrationResult:
    applied: list[str]
    skipped: list[str]


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def apply_migrations(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationResult:
    result = MigrationResult(applied=[], skipped=[])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                """
                create table if not exists public.gdp_schema_migrations (
                    filename text primary key,
                    checksum text not null,
                    applied_at timestamptz not null default now()
                )
                """
            )
            done = dict(conn.execute("select filename, checksum from public.gdp_schema_migrations").fetchall())
            for path in migration_files(directory):
                checksum = _checksum(path)
                if path.name in done:
                    if done[path.name] != checksum:
                        raise MigrationChanged(
                            f"{path.name} was edited after it was applied; add a new migration instead"
                        )
                    result.skipped.append(path.name)
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute(
                        "insert into public.gdp_schema_migrations (filename, checksum) values (%s, %s)",
                        (path.name, checksum),
                    )
                result.applied.append(path.name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return result
