"""The real ledger (ledger.membership.record_cycle) feeding activation, cycle after cycle.

Segment membership is set by hand in the test's schema; the ledger diffs it and
activation acts on the transitions: enter → email + audience add, exit →
audience remove, merge → the survivor takes the old id's audience place, and a
repeated cycle sends nothing.
"""

from __future__ import annotations

import json

import psycopg

from activation.runner import activate
from ledger.membership import record_cycle
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    act_db,
    add_person,
    add_segment,
    db,
    fake_meta,
    fake_resend,
    make_settings,
    query,
)


def _members(url: str, members: dict[str, list[str]], aliases: dict[str, str] | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'create table if not exists "{SCHEMA}".segment_member (segment text, person_id text, qualified_at timestamptz, context jsonb)')
        conn.execute(f'create table if not exists "{SCHEMA}".identity_link (identifier_type text, identifier_value text, person_id text)')
        conn.execute(f'truncate "{SCHEMA}".segment_member, "{SCHEMA}".identity_link')
        for segment, persons in members.items():
            for p in persons:
                conn.execute(f'insert into "{SCHEMA}".segment_member values (%s, %s, now(), %s)', (segment, p, json.dumps({"p": p})))
        for old, survivor in (aliases or {}).items():
            conn.execute(f'insert into "{SCHEMA}".identity_link (identity_key, identifier_type, identifier_value, person_id) '
                         "values (%s, %s, %s, %s)", (f"person_id:{old}", "person_id", old, survivor))


def test_ledger_cycles_drive_emails_and_audiences_exactly_once(db, fake_resend, fake_meta, tmp_path):
    add_segment(db, "high_intent_pricing_2plus_not_paid",
                [{"channel": "email", "template": "help_picking_plan"}, {"channel": "meta_audience", "audience": "high_intent_pricing"}])
    for p in ("ada", "bob", "cy", "cy2"):
        add_person(db, p, f"{p}@example.org")
    settings = make_settings(tmp_path, resend=fake_resend, meta=fake_meta, meta_audience_ids="high_intent_pricing=42",
                             blast_radius_min_size=1000)
    seg = "high_intent_pricing_2plus_not_paid"

    _members(db, {seg: ["ada", "bob", "cy2"]})
    record_cycle(db, "c1", dbt_schema=SCHEMA, settings=settings)
    activate(db, settings=settings)
    assert sorted(d["email"]["to"][0] for d in fake_resend.delivered) == ["ada@example.org", "bob@example.org", "cy2@example.org"]
    assert query(db, "select count(*) from activation.audience_member where removed_at is null") == [(3,)]

    # Cycle 2: bob leaves; cy2 turns out to be cy (an alias), ada stays.
    _members(db, {seg: ["ada", "cy"]}, aliases={"cy2": "cy"})
    record_cycle(db, "c2", dbt_schema=SCHEMA, settings=settings)
    record_cycle(db, "c2", dbt_schema=SCHEMA, settings=settings)  # a repeated cycle adds nothing
    activate(db, settings=settings)
    activate(db, settings=settings)

    assert len(fake_resend.delivered) == 3, "nobody got a second email: the merge is not a new entry"
    assert query(db, "select transition, person_id from activation.membership_transition where cycle_id = 'c2' order by 1, 2") == [
        ("exited", "bob"), ("merged", "cy2")]
    assert query(db, "select person_id from activation.audience_member where removed_at is null order by 1") == [("ada",), ("cy",)]
    methods = [(r["method"], len(json.loads(r["params"]["payload"])["data"])) for r in fake_meta.requests]
    assert methods[0] == ("POST", 3) and sorted(methods[1:]) == [("DELETE", 2), ("POST", 1)]
