"""The activation-facing marts (models/marts/activation/) hold the rules activation used to compute in Python.

These run the real view SQL (tests/activation_support.py takes it from a dbt build)
over hand-filled tables, and check what activation does with the answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest
import yaml

from activation.outbound import _deal
from activation.runner import activate
from gdp.settings import REPO_ROOT
from tests.activation_support import (  # noqa: F401  (fixtures)
    SCHEMA,
    VIEWS,
    act_db,
    add_deal,
    add_person,
    add_segment,
    add_transition,
    db,
    fake_meta,
    fake_resend,
    make_settings,
    query,
)

SAMPLE_IDS = ["p1", "person-00", "0f8fad5b-d9cb-469f-a165-70867728950e", "Zoë Ünïcode", "", "x" * 300,
              *(f"person-{i}" for i in range(2000))]


def reference_holdout_bucket(person_id: str, segment: str) -> float:
    """The assignment activation computed in Python (activation/keys.py) before it moved to dbt."""
    digest = hashlib.sha256(f"{segment}\x1f{person_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _enter_all(url: str, segment: str, person_ids: list[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into activation.membership_transition (cycle_id, segment, person_id, transition, qualified_at) "
            "values ('c1', %s, %s, 'entered', now())",
            [(segment, p) for p in person_ids],
        )


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_holdout_mart_gives_the_same_assignment_as_the_python_it_replaced(db):
    add_segment(db, "seg", [], holdout_share=0.1)
    add_segment(db, "other_seg", [], holdout_share=0.5)
    _enter_all(db, "seg", SAMPLE_IDS)
    _enter_all(db, "other_seg", SAMPLE_IDS[:500])

    rows = query(db, f'select segment, person_id, holdout_share, holdout_bucket, is_holdout from "{SCHEMA}".activation_holdout')

    assert len(rows) == len(SAMPLE_IDS) + 500
    for segment, person_id, share, bucket, is_holdout in rows:
        expected = reference_holdout_bucket(person_id, segment)
        assert bucket == expected, (segment, person_id)
        assert is_holdout == (expected < share), (segment, person_id)
    held = sum(1 for r in rows if r[0] == "seg" and r[4]) / len(SAMPLE_IDS)
    assert 0.08 < held < 0.12


def test_held_out_entries_are_recorded_not_contacted(db, fake_resend, tmp_path):
    add_segment(db, "seg", [{"channel": "email", "template": "one_minute_setup"}], holdout_share=0.5)
    people = [f"person-{i}" for i in range(40)]
    for p in people:
        add_person(db, p, f"{p}@example.org")
        add_transition(db, "seg", p)

    activate(db, settings=make_settings(tmp_path, resend=fake_resend, email_cap_per_day=100), channels=["resend_emails"])

    statuses = dict(query(db, "select person_id, status from activation.outbox"))
    expected = {p: "holdout" if reference_holdout_bucket(p, "seg") < 0.5 else "sent" for p in people}
    assert statuses == expected
    assert {"holdout", "sent"} <= set(expected.values())
    assert len(fake_resend.delivered) == sum(1 for s in expected.values() if s == "sent")


def test_recipient_mart_decides_email_and_ads_permission(db):
    add_person(db, "ok", "ok@example.org", name="  ada   lovelace ")
    add_person(db, "bounced", "b@example.org", contactable=False, reason="bounced")
    add_person(db, "complained", "c@example.org", contactable=False, reason="complained")
    add_person(db, "bounced_unsub", "bu@example.org", contactable=False, reason="bounced")
    add_person(db, "no_email", None)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'update "{SCHEMA}".contact_eligibility set is_bounced = true, is_unsubscribed = true '
                     "where person_id = 'bounced_unsub'")
        conn.execute(f'insert into "{SCHEMA}".person (person_id, email) values (%s, %s)', ("no_eligibility", "n@example.org"))

    rows = {r[0]: r[1:] for r in query(
        db, f'select person_id, is_emailable, email_suppression_reason, is_ad_targetable, ad_suppression_reason, '
            f'display_name, first_name from "{SCHEMA}".activation_recipient')}

    assert rows["ok"] == (True, None, True, None, "ada lovelace", "Ada")
    assert rows["bounced"][:4] == (False, "bounced", True, None), "a bounced address alone does not stop ads"
    assert rows["complained"][:4] == (False, "complained", False, "complained")
    assert rows["bounced_unsub"][:4] == (False, "bounced", False, "unsubscribed"), "an unsubscribe stops ads under a bounce too"
    assert rows["no_email"][:3] == (False, "no_email", True)
    assert rows["no_eligibility"][:4] == (False, "unknown_person", False, "unknown_person")


def test_audience_add_follows_the_recipient_mart(db, fake_meta, tmp_path):
    add_segment(db, "no_show", [{"channel": "meta_audience", "audience": "a"}], funnel="outbound")
    add_person(db, "bounced", "b@example.org", contactable=False, reason="bounced")
    add_person(db, "bounced_unsub", "bu@example.org", contactable=False, reason="bounced")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'update "{SCHEMA}".contact_eligibility set is_unsubscribed = true where person_id = %s', ("bounced_unsub",))
    for p in ("bounced", "bounced_unsub", "nobody"):
        add_transition(db, "no_show", p)

    activate(db, settings=make_settings(tmp_path, meta=fake_meta, meta_audience_ids="a=1"), channels=["meta_audiences"])

    assert dict(query(db, "select person_id, status || ':' || coalesce(error, '') from activation.outbox")) == {
        "bounced": "sent:", "bounced_unsub": "skipped_suppressed:unsubscribed", "nobody": "skipped_suppressed:unknown_person"}


def test_deal_for_a_human_is_the_latest_open_one_whatever_the_row_order(db):
    add_deal(db, "d-closed", "p1", "p1@example.org", owner="closer", stage="lost", updated_at="now()")
    add_deal(db, "d-old", "p1", "p1@example.org", owner="old", updated_at="now() - interval '2 days'")
    add_deal(db, "d-b", "p1", "p1@example.org", owner="b", updated_at="'2026-01-02T00:00:00Z'")
    add_deal(db, "d-a", "p1", "p1@example.org", owner="a", updated_at="'2026-01-02T00:00:00Z'")
    add_deal(db, "only-closed", "p2", "p2@example.org", owner="c", stage="won", objections=["price", "timing"])

    with psycopg.connect(db) as conn:
        assert _deal(conn, SCHEMA, "p1")["deal_id"] == "d-old"
        with conn.transaction():
            conn.execute(f"""update "{SCHEMA}".deal set updated_at = '2026-01-01T00:00:00Z' where deal_id = 'd-old'""")
            assert _deal(conn, SCHEMA, "p1")["deal_id"] == "d-a", "same updated_at: the lower deal_id"
        assert _deal(conn, SCHEMA, "p2") == {"deal_id": "only-closed", "email": "p2@example.org", "owner": "c",
                                             "objection_tags": ["price", "timing"]}
        assert _deal(conn, SCHEMA, "nobody") == {}


def _contract(model: str) -> dict[str, str]:
    for path in Path(REPO_ROOT, "models").rglob("*.yml"):
        for entry in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            if entry["name"] == model:
                assert entry["config"]["contract"]["enforced"] is True, f"{model} has no enforced contract"
                return {c["name"]: c["data_type"] for c in entry["columns"]}
    raise AssertionError(f"no YAML for {model}")


def test_stand_ins_have_exactly_the_contract_columns(db):
    with psycopg.connect(db) as conn:
        for view in VIEWS:
            if view.startswith("stg_"):
                continue
            built = dict(conn.execute(
                """select attname, format_type(atttypid, atttypmod) from pg_attribute
                   where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum""",
                (f'"{SCHEMA}"."{view}"',),
            ).fetchall())
            contract = {name: {"timestamptz": "timestamp with time zone"}.get(t, t) for name, t in _contract(view).items()}
            assert built == contract, view
        person = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = 'person'", (SCHEMA,))}
    assert {"person_id", "email", "name", "phone", "country"} <= person


def test_transitions_wait_while_the_holdout_mart_is_not_built(db, tmp_path):
    add_segment(db, "seg", [{"channel": "email", "template": "one_minute_setup"}], holdout_share=1.0)
    add_person(db, "p1", "p1@example.org")
    add_transition(db, "seg", "p1")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'alter view "{SCHEMA}".activation_holdout rename to activation_holdout_later')

    report = activate(db, settings=make_settings(tmp_path), channels=["resend_emails"])

    assert query(db, "select count(*) from activation.outbox") == [(0,)]
    assert any("activation_holdout not built yet" in note for note in report.notes)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'alter view "{SCHEMA}".activation_holdout_later rename to activation_holdout')
    activate(db, settings=make_settings(tmp_path), channels=["resend_emails"])
    assert query(db, "select status from activation.outbox") == [("holdout",)]
