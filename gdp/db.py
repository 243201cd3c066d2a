"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL in the repo.

The embedded server (the `pgserver` wheel, a real PostgreSQL 16) lives under
`<data_dir>/pgdata`, is started on first use and left running, so later commands
and `dbt` reuse it instead of paying the start-up again.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import psycopg

from gdp.settings import MissingSetting, Settings, get_settings


def embedded_data_dir(settings: Settings) -> Path:
    return settings.data_dir / "pgdata"


def start_embedded(settings: Settings):
    """Start (or attach to) the embedded server and return its handle."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    data_dir = embedded_data_dir(settings)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode=None)


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server if it runs (it outlives every command on purpose); True when one was stopped.

    Reads the postmaster.pid pgserver left instead of attaching, so stopping never starts it first.
    """
    import os

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    data_dir = embedded_data_dir(settings or get_settings())
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    # pgserver runs the server as its own `pgserver` user when started by root; pg_ctl must match.
    pg_ctl(["-w", "stop"], pgdata=data_dir, user="pgserver" if os.geteuid() == 0 else None)
    return True


def database_url(settings: Settings | None = None) -> str:
    """The URL in use: `DATABASE_URL` when set, else the embedded server's (never when SUPABASE_URL says otherwise)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.supabase_url:
        raise MissingSetting("DATABASE_URL", "SUPABASE_URL is set, so the data belongs on Supabase, but SUPABASE_URL is its API "
                             "URL, not a Postgres connection; set DATABASE_URL to the project's connection string "
                             "(Project Settings → Database), or unset SUPABASE_URL to use the embedded database")
    return start_embedded(settings).get_uri()


def with_database(url: str, dbname: str) -> str:
    """Same server, another database name (tests create one database per run)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def dbt_env(url: str) -> dict[str, str]:
    """Connection pieces for `profiles.yml`, which cannot parse a URL itself."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return {
        "GDP_PGHOST": query.get("host") or parts.hostname or "localhost",
        "GDP_PGPORT": str(parts.port or query.get("port") or 5432),
        "GDP_PGUSER": parts.username or query.get("user") or "postgres",
        "GDP_PGPASSWORD": (parts.password or query.get("password") or ""),
        "GDP_PGDATABASE": parts.path.lstrip("/") or "postgres",
        "GDP_PGSSLMODE": query.get("sslmode", "prefer"),
    }


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@contextmanager
def connect(url: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(url or database_url(), **kwargs)
    try:
        yield conn
    finally:
        conn.close()


def create_database(url: str, dbname: str) -> str:
    """Create `dbname` on the server behind `url` (no-op when it exists); return its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(dbname)))
    return with_database(url, dbname)


def drop_database(url: str, dbname: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("drop database if exists {} with (force)").format(psycopg.sql.Identifier(dbname))
        )

