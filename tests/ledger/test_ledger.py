"""The membership ledger on hand-made `segment_member` tables (no dbt needed).

The dbt-side tables are created in a private schema so this suite never touches
what a dbt build put in `analytics`.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from gdp.settings import Settings
from ledger.membership import LedgerError, approve, record_cycle

SCHEMA = "ledger_test"


@pytest.fixture
def ledger_db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.execute(f"create schema {SCHEMA}")
        conn.execute(
            f"""
            create table {SCHEMA}.segment_member (
                segment text, person_id text, qualified_at timestamptz, context jsonb
            );
            create table {SCHEMA}.segment (segment text primary key, version_hash text);
            create table {SCHEMA}.identity_link (
                identifier_type text, identifier_value text, person_id text
            );
            """
        )
        conn.execute(
            "truncate activation.membership_transition, activation.segment_membership, activation.pipeline_cycle"
        )
        yield conn


def set_state(conn, members: dict[str, list[str]], versions: dict[str, str] | None = None, aliases=None):
    conn.execute(f"truncate {SCHEMA}.segment_member, {SCHEMA}.segment, {SCHEMA}.identity_link")
    for segment, persons in members.items():
        conn.execute(
            f"insert into {SCHEMA}.segment (segment, version_hash) values (%s, %s)",
            (segment, (versions or {}).get(segment, "v1")),
        )
        for person in persons:
            conn.execute(
                f"insert into {SCHEMA}.segment_member values (%s, %s, now(), jsonb_build_object('p', %s::text))",
                (segment, person, person),
            )
    for old, survivor in (aliases or {}).items():
        conn.execute(
            f"insert into {SCHEMA}.identity_link values ('person_id', %s, %s), ('person_id', %s, %s)",
            (old, survivor, survivor, survivor),
        )


def transitions(conn, cycle_id: str | None = None) -> set[tuple]:
    rows = conn.execute(
        """
        select segment, person_id, transition, merged_into_person_id
        from activation.membership_transition
        where %(c)s::text is null or cycle_id = %(c)s
        """,
        {"c": cycle_id},
    ).fetchall()
    return set(rows)


def membership(conn) -> set[tuple]:
    return set(conn.execute("select segment, person_id from activation.segment_membership").fetchall())


def count(conn) -> int:
    return conn.execute("select count(*) from activation.membership_transition").fetchone()[0]


def test_three_cycles_enter_leave_merge(ledger_db, database_url):
    conn = ledger_db
    # cycle 1: everyone is new
    set_state(conn, {"a": ["p1", "p2", "p3", "p8"], "b": ["p6"]})
    first = record_cycle(database_url, "c1", dbt_schema=SCHEMA, settings=Settings())
    assert transitions(conn, "c1") == {
        ("a", "p1", "entered", None),
        ("a", "p2", "entered", None),
        ("a", "p3", "entered", None),
        ("a", "p8", "entered", None),
        ("b", "p6", "entered", None),
    }
    assert (first.entered, first.exited, first.merged) == (5, 0, 0)

    # cycle 2: p2 leaves a, p4 enters a; b unchanged
    set_state(conn, {"a": ["p1", "p3", "p4", "p8"], "b": ["p6"]})
    record_cycle(database_url, "c2", dbt_schema=SCHEMA, settings=Settings())
    assert transitions(conn, "c2") == {("a", "p2", "exited", None), ("a", "p4", "entered", None)}

    entered_at_p6 = conn.execute(
        "select entered_at from activation.segment_membership where segment = 'b' and person_id = 'p6'"
    ).fetchone()[0]

    # cycle 3: identity merges p3→p1 (both were in a), p6→p7 (p7 new to b), p8→p9 (p9 not in a)
    set_state(conn, {"a": ["p1", "p4"], "b": ["p7"]}, aliases={"p3": "p1", "p6": "p7", "p8": "p9"})
    third = record_cycle(database_url, "c3", dbt_schema=SCHEMA, settings=Settings())
    assert transitions(conn, "c3") == {
        ("a", "p3", "merged", "p1"),
        ("b", "p6", "merged", "p7"),
        ("a", "p8", "exited", None),  # its survivor is not in the segment: a real exit
    }
    assert (third.entered, third.exited, third.merged) == (0, 1, 2)
    assert membership(conn) == {("a", "p1"), ("a", "p4"), ("b", "p7")}
    # the survivor keeps the tenure of the id it absorbed
    assert conn.execute(
        "select entered_at from activation.segment_membership where segment = 'b' and person_id = 'p7'"
    ).fetchone()[0] == entered_at_p6
    assert count(conn) == 10

    # repeating a cycle adds nothing, even if segment_member changed meanwhile
    set_state(conn, {"a": ["p1"], "b": []})
    again = record_cycle(database_url, "c3", dbt_schema=SCHEMA, settings=Settings())
    assert again.already_recorded and count(conn) == 10
    assert membership(conn) == {("a", "p1"), ("a", "p4"), ("b", "p7")}

    # a new cycle with the same state as recorded adds nothing either
    set_state(conn, {"a": ["p1", "p4"], "b": ["p7"]})
    quiet = record_cycle(database_url, "c4", dbt_schema=SCHEMA, settings=Settings())
    assert (quiet.entered, quiet.exited, quiet.merged) == (0, 0, 0) and count(conn) == 10
    statuses = dict(conn.execute("select cycle_id, status from activation.pipeline_cycle").fetchall())
    assert statuses == {"c1": "succeeded", "c2": "succeeded", "c3": "succeeded", "c4": "succeeded"}


def test_definition_change_records_version(ledger_db, database_url):
    conn = ledger_db
    set_state(conn, {"a": ["p1", "p2"]}, versions={"a": "v1"})
    record_cycle(database_url, "c1", dbt_schema=SCHEMA, settings=Settings())
    set_state(conn, {"a": ["p1", "p3"]}, versions={"a": "v2"})
    result = record_cycle(database_url, "c2", dbt_schema=SCHEMA, settings=Settings())
    assert result.segments["a"].version_changed
    assert "definition of a changed" in result.summary()
    versions = set(
        conn.execute(
            "select cycle_id, person_id, segment_version from activation.membership_transition"
        ).fetchall()
    )
    assert versions == {("c1", "p1", "v1"), ("c1", "p2", "v1"), ("c2", "p2", "v2"), ("c2", "p3", "v2")}


def test_removed_segment_exits_its_members(ledger_db, database_url):
    conn = ledger_db
    set_state(conn, {"a": ["p1"], "gone": ["p1", "p2"]})
    record_cycle(database_url, "c1", dbt_schema=SCHEMA, settings=Settings())
    set_state(conn, {"a": ["p1"]})
    record_cycle(database_url, "c2", dbt_schema=SCHEMA, settings=Settings())
    assert transitions(conn, "c2") == {("gone", "p1", "exited", None), ("gone", "p2", "exited", None)}


def held(conn, cycle_id: str) -> dict[str, tuple[bool, ...]]:
    rows = conn.execute(
        """
        select segment, bool_and(is_held), bool_or(is_held), bool_and(approved_at is not null)
        from activation.membership_transition where cycle_id = %s group by segment
        """,
        (cycle_id,),
    ).fetchall()
    return {segment: (all_held, any_held, all_approved) for segment, all_held, any_held, all_approved in rows}


def test_blast_radius_share_holds_and_approve_releases(ledger_db, database_url):
    conn = ledger_db
    settings = Settings()  # share 0.5, min size 20, max 1000
    forty = [f"p{i:02d}" for i in range(40)]
    set_state(conn, {"big": forty, "small": ["s1", "s2", "s3"]})
    first = record_cycle(database_url, "c1", dbt_schema=SCHEMA, settings=settings)
    assert first.held_segments == []  # a new segment is below the minimum size to apply the share

    # exactly half of 40 leaving is not "more than" half: recorded, not held
    set_state(conn, {"big": forty[20:], "small": []})
    second = record_cycle(database_url, "c2", dbt_schema=SCHEMA, settings=settings)
    assert second.segments["big"].moved == 20 and second.held_segments == []
    # 3 of 3 leaving 'small' is 100 %, but the segment is below the minimum size
    assert held(conn, "c2") == {"big": (False, False, False), "small": (False, False, False)}

    # 11 of 20 moving (> 50 %) is held, every transition of that segment in that cycle
    set_state(conn, {"big": forty[31:] + ["n1", "n2"], "small": ["s9"]})
    third = record_cycle(database_url, "c3", dbt_schema=SCHEMA, settings=settings)
    assert third.segments["big"].moved == 13 and third.held_segments == ["big"]
    assert "HELD big" in third.summary() and "gdp segments approve big c3" in third.summary()
    assert held(conn, "c3") == {"big": (True, True, False), "small": (False, False, False)}
    # held transitions still move the recorded membership: the next cycle does not re-send them
    assert ("big", "n1") in membership(conn)

    with pytest.raises(LedgerError, match="no held transitions"):
        approve(database_url, "small", "c3")
    assert approve(database_url, "big", "c3") == 13
    assert held(conn, "c3")["big"] == (True, True, True)
    with pytest.raises(LedgerError, match="already approved"):
        approve(database_url, "big", "c3")


def test_blast_radius_absolute_count(ledger_db, database_url):
    conn = ledger_db
    settings = dataclasses.replace(Settings(), blast_radius_max=10)
    set_state(conn, {"new": [f"p{i}" for i in range(11)], "ok": [f"q{i}" for i in range(10)]})
    result = record_cycle(database_url, "c1", dbt_schema=SCHEMA, settings=settings)
    assert result.held_segments == ["new"]
    assert held(conn, "c1") == {"new": (True, True, False), "ok": (False, False, False)}


def test_bad_input_is_refused(ledger_db, database_url):
    with pytest.raises(LedgerError, match="cycle_id"):
        record_cycle(database_url, "", dbt_schema=SCHEMA, settings=Settings())
    with pytest.raises(LedgerError, match="does not exist"):
        record_cycle(database_url, "c1", dbt_schema="no_such_schema", settings=Settings())
    assert count(ledger_db) == 0
    assert ledger_db.execute("select count(*) from activation.pipeline_cycle").fetchone()[0] == 0
