"""Supabase's client roles read and write nothing in raw, activation, auth or what dbt builds.

On Supabase the browser talks to the database as `anon` (or `authenticated` after
log-in) through PostgREST. This connects as each of them (`set role`) to a
database where dbt has built every model, and tries, relation by relation, to
read, insert, update, delete, truncate and create; each attempt must be refused
with a privilege error. Sequences behind identity columns are checked too.
tests/platform/test_database.py covers the migrations alone; this adds the dbt schema
(its on-run-end hook, macros/revoke_client_access.sql, revokes client access
after every run, so even a grant made by hand is gone after the next run).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from gdp.dbt import run_dbt
from tests.dbt_helpers import ingest_client, private_database, send_resend

ROLES = ("anon", "authenticated")
SCHEMAS = ("raw", "activation", "auth", "analytics")


@pytest.fixture(scope="module")
def built(server_url, settings, tmp_path_factory):
    with private_database(server_url) as url:
        with ingest_client(settings, url) as client:
            send_resend(client, {"type": "email.delivered", "created_at": "2026-11-20T10:00:00Z",
                                 "data": {"email_id": "em_rls", "to": ["rls@example.org"], "tags": {"person_id": "p_rls"}}},
                        "msg_rls_1")
        with psycopg.connect(url, autocommit=True) as conn:
            # A grant as a careless operator (or a platform default) might make; the next dbt run must undo it.
            conn.execute("create schema if not exists analytics")
            conn.execute("grant usage on schema analytics to anon")
            conn.execute("alter default privileges in schema analytics grant select on tables to anon, authenticated")
        # Seeds and models, without data tests: this test is about privileges, not data.
        run = run_dbt(["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"], url, target_path=tmp_path_factory.mktemp("rls_target"))
        assert run.ok, run.output[-3000:]
        yield url


def _relations(conn) -> list[tuple[str, str, str]]:
    return conn.execute(
        """select n.nspname, c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p') order by 1, 2""",
        (list(SCHEMAS),),
    ).fetchall()


def _refused(conn, role: str, statement: sql.Composable) -> bool:
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        try:
            with conn.transaction():
                conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
@pytest.mark.parametrize("role", ROLES)
def test_client_roles_can_neither_read_nor_write_any_relation(built, role):
    with psycopg.connect(built, autocommit=True) as conn:
        relations = _relations(conn)
        kinds = {schema for schema, _, _ in relations}
        assert kinds == set(SCHEMAS), f"expected relations in every schema, got {kinds}"
        assert sum(1 for s, _, _ in relations if s == "analytics") >= 20, "dbt built the analytics schema"
        allowed = []
        for schema, name, kind in relations:
            ident = sql.Identifier(schema, name)
            attempts = [sql.SQL("select * from {} limit 1").format(ident)]
            if kind in ("r", "p"):
                attempts += [
                    sql.SQL("insert into {} default values").format(ident),
                    sql.SQL("update {} set {} = null").format(ident, sql.Identifier(_first_column(conn, schema, name))),
                    sql.SQL("delete from {}").format(ident),
                    sql.SQL("truncate {}").format(ident),
                ]
            for statement in attempts:
                if not _refused(conn, role, statement):
                    allowed.append(statement.as_string(conn))
        for schema in SCHEMAS:
            create = sql.SQL("create table {} (x int)").format(sql.Identifier(schema, f"rls_probe_{role}"))
            if not _refused(conn, role, create):
                allowed.append(create.as_string(conn))
        for (schema, seq) in conn.execute(
            "select schemaname, sequencename from pg_sequences where schemaname = any(%s)", (list(SCHEMAS),)
        ).fetchall():
            statement = sql.SQL("select nextval({})").format(sql.Literal(f'"{schema}"."{seq}"'))
            if not _refused(conn, role, statement):
                allowed.append(statement.as_string(conn))
        assert allowed == [], f"{role} was allowed: {allowed[:10]}"


def test_the_hand_made_grant_was_revoked_by_the_run(built):
    with psycopg.connect(built) as conn:
        for role in ROLES:
            usage = conn.execute("select has_schema_privilege(%s, 'analytics', 'usage')", (role,)).fetchone()[0]
            assert usage is False
            readable = conn.execute(
                """select count(*) from pg_tables where schemaname = 'analytics'
                   and has_table_privilege(%s, format('%%I.%%I', schemaname, tablename), 'select')""",
                (role,),
            ).fetchone()[0]
            assert readable == 0


def _first_column(conn, schema: str, name: str) -> str:
    return conn.execute(
        """select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped
           order by attnum limit 1""",
        (f'"{schema}"."{name}"',),
    ).fetchone()[0]
