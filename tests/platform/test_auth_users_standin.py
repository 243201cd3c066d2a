"""The auth.users stand-in: the columns dbt reads, created only where Supabase's table is absent."""

from __future__ import annotations

import uuid

import psycopg

from gdp import db as gdb
from gdp.migrate import apply_migrations

COLUMNS = {
    "id": "uuid",
    "email": "text",
    "created_at": "timestamp with time zone",
    "last_sign_in_at": "timestamp with time zone",
    "raw_user_meta_data": "jsonb",
    "updated_at": "timestamp with time zone",
}


def auth_users_columns(conn) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'auth' and table_name = 'users'"
    ).fetchall()
    return dict(rows)


def test_standin_has_the_columns_dbt_reads(conn):
    assert auth_users_columns(conn) == COLUMNS
    user_id = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, email, raw_user_meta_data) values (%s, 'ada@example.org', '{\"plan\": \"pro\"}')",
        (user_id,),
    )
    row = conn.execute(
        "select email, created_at is not null, last_sign_in_at, raw_user_meta_data ->> 'plan' from auth.users where id = %s",
        (user_id,),
    ).fetchone()
    assert row == ("ada@example.org", True, None, "pro")
    # An account change moves updated_at, as Supabase Auth does: dbt recomputes that person.
    conn.execute("update auth.users set updated_at = '2020-01-01' where id = %s", (user_id,))
    conn.execute("update auth.users set raw_user_meta_data = '{\"phone\": \"+1 555\"}' where id = %s", (user_id,))
    moved = conn.execute("select updated_at > '2020-01-02' from auth.users where id = %s", (user_id,)).fetchone()[0]
    assert moved
    conn.execute("delete from auth.users where id = %s", (user_id,))


def test_an_existing_auth_users_table_is_left_alone(server_url):
    """On Supabase auth.users already exists (with many more columns); the migration must not touch it."""
    name = f"gdp_test_auth_{uuid.uuid4().hex[:8]}"
    url = gdb.create_database(server_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create schema auth")
            conn.execute("create table auth.users (id uuid primary key, email text, phone text, created_at timestamptz,"
                         " updated_at timestamptz)")
        apply_migrations(url)
        with psycopg.connect(url) as conn:
            columns = auth_users_columns(conn)
        assert set(columns) == {"id", "email", "phone", "created_at", "updated_at"}
    finally:
        gdb.drop_database(server_url, name)
