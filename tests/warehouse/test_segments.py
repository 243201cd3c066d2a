"""Segments end to end on a real build: a new segment is one file pair, `<name>.sql` + `<name>.yml`.

One module-scoped pipeline cycle (`orchestration.cycle.run_cycle`: a real `dbt build` of
the whole project, then the ledger) runs against a private database, on a copy of
the project to which a segment was added the way an analyst would: one SQL file in
models/segments/outbound/ and its YAML beside it, nothing else. The
tests then check that `segment`, `segment_member`, the ledger, the blast-radius
guard, activation (dry-run) and the `gdp segments` CLI all picked it up.
`preview` runs one dbt compile on the real working tree.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

import gdp.dbt
from gdp.cli import main as cli
from gdp.settings import REPO_ROOT, Settings, get_settings
from ledger.membership import approve, record_cycle
from ledger.preview import preview_segment
from orchestration.cycle import run_cycle
from tests.dbt_helpers import ingest_client, private_database, rows, send_resend

pytestmark = pytest.mark.slow

NEW_SEGMENT = "trial_won_deal_followup"
NEW_SQL = """{#- Won deals, for the test that a new segment needs no other change. -#}
with

deals as (
    select * from {{ ref('deal') }}
),

final as (
    select
        person_id,
        won_at as qualified_at,
        amount_cents
    from deals
    where current_stage = 'won'
      and person_id is not null
)

select * from final
"""
NEW_YAML = f"""version: 2

models:
  - name: {NEW_SEGMENT}
    description: Won deals (test segment).
    config:
      meta:
        segment:
          funnel: outbound
          description: "Won deals get a case study"
          owner: sales
          priority: 70
          activations:
            - {{channel: email, template: case_study_drop}}
    columns:
      - name: person_id
        data_tests: [unique, not_null]
"""
DEALS = [
    ("wendy@example.org", "won", None),
    ("pat@example.org", "proposal_sent", None),
    ("nina@example.org", "replied_negative", "price"),
    ("lou@example.org", "lost", None),
]


def copy_project(dest: Path) -> Path:
    """The dbt project as an analyst's branch would have it, plus the new segment."""
    for name in ("dbt_project.yml", "profiles.yml", "selectors.yml"):
        shutil.copy(REPO_ROOT / name, dest / name)
    for folder in ("models", "macros", "seeds", "snapshots", "analyses", "tests/dbt"):
        if (REPO_ROOT / folder).exists():
            shutil.copytree(REPO_ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    funnel = dest / "models" / "segments" / "outbound"
    (funnel / f"{NEW_SEGMENT}.sql").write_text(NEW_SQL)
    (funnel / f"{NEW_SEGMENT}.yml").write_text(NEW_YAML)
    return dest


def land_touches(url: str, settings: Settings) -> None:
    """Deal moves through the same code path as `gdp deal move`, a bounce through the Resend webhook."""
    from ingest_app.imports.deals import build_deal_row, land_move

    with psycopg.connect(url, autocommit=True) as conn:
        for i, (email, stage, objection) in enumerate(DEALS):
            body = {"email": email, "stage": "contacted", "event_id": f"move-{i}-a", "occurred_at": "2026-11-01T10:00:00Z"}
            land_move(conn, build_deal_row(body, via="api"))
            body = {"email": email, "stage": stage, "event_id": f"move-{i}-b", "objection": objection}
            land_move(conn, build_deal_row({k: v for k, v in body.items() if v}, via="api"))
    bounce = {
        "type": "email.bounced",
        "created_at": "2026-11-20T09:00:00.000Z",
        "data": {
            "email_id": "em_bounce",
            "created_at": "2026-11-20T08:59:00.000Z",
            "from": "Team <team@example.com>",
            "to": ["bob@example.org"],
            "subject": "Welcome",
            "tags": {"person_id": "p_bob", "campaign_id": "welcome", "funnel": "newsletter"},
            "bounce": {"type": "Permanent", "subType": "General", "message": "mailbox does not exist"},
        },
    }
    with ingest_client(settings, url) as client:
        send_resend(client, bounce, "msg_bounce_1")


@pytest.fixture(scope="module")
def cycle(server_url, settings, tmp_path_factory):
    """One real pipeline cycle (dbt build + ledger, guard set to hold every move) on the copy."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    target = tmp_path_factory.mktemp("target")
    guard_everything = Settings(blast_radius_max=0)
    with private_database(server_url) as url:
        land_touches(url, settings)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(gdp.dbt, "REPO_ROOT", project)
            result = run_cycle(url, target_path=target, cycle_id="c1", settings=guard_everything)
        assert result.ok, result.summary()
        yield url, project, result


def person_of(url: str, email: str) -> str:
    return rows(url, "select person_id from analytics.person where email = %s", (email,))[0]["person_id"]


def test_new_segment_is_in_segment_with_the_hash_of_its_sql(cycle):
    url, project, result = cycle
    definitions = {r["segment"]: r for r in rows(url, "select * from analytics.segment")}
    assert len(definitions) == 21  # the 20 starter segments + the new one
    new = definitions[NEW_SEGMENT]
    sql_text = (project / "models/segments/outbound" / f"{NEW_SEGMENT}.sql").read_text()
    # dbt's raw_code is the file with surrounding whitespace stripped
    assert new["version_hash"] == hashlib.md5(sql_text.strip().encode()).hexdigest()
    assert (new["funnel"], new["owner"], new["priority"]) == ("outbound", "sales", 70)
    assert new["activations"] == [{"channel": "email", "template": "case_study_drop"}]
    assert definitions["bounced_complained"]["activations"] == [{"channel": "suppress"}]
    assert definitions["booked_call"]["funnel"] == "outbound"


def test_segments_fill_segment_member_from_real_touches(cycle):
    url, _, _ = cycle
    members = {(r["segment"], r["person_id"]): r for r in rows(url, "select * from analytics.segment_member")}
    wendy, pat, nina, lou = (person_of(url, e) for e, _, _ in DEALS)
    bob = person_of(url, "bob@example.org")
    assert set(members) == {
        (NEW_SEGMENT, wendy), ("won", wendy), ("proposal_sent", pat), ("replied_negative", nina),
        ("lost", lou), ("bounced_complained", bob),
    }
    assert members[("replied_negative", nina)]["context"]["objection"] == "price"
    assert members[("bounced_complained", bob)]["qualified_at"].isoformat().startswith("2026-11-20T09:00")
    eligibility = {r["person_id"]: r for r in rows(url, "select * from analytics.contact_eligibility")}
    assert (eligibility[bob]["is_contactable"], eligibility[bob]["suppression_reason"]) == (False, "bounced")
    assert (eligibility[wendy]["is_contactable"], eligibility[wendy]["email_cap_per_day"]) == (True, 1)


def test_ledger_records_the_new_segment_and_the_guard_holds_it(cycle):
    url, _, result = cycle
    assert result.cycle_id == "c1" and "ledger: cycle c1: 6 entered, 0 exited, 0 merged" in result.summary()
    wendy = person_of(url, "wendy@example.org")
    transitions = rows(
        url,
        "select t.*, s.version_hash from activation.membership_transition t join analytics.segment s using (segment)"
        " where t.cycle_id = 'c1' and t.segment = %s",
        (NEW_SEGMENT,),
    )
    assert [(t["person_id"], t["transition"], t["is_held"]) for t in transitions] == [(wendy, "entered", True)]
    assert transitions[0]["segment_version"] == transitions[0]["version_hash"]
    # a new cycle over the same build adds nothing
    again = record_cycle(url, "c2", settings=Settings())
    assert (again.entered, again.exited, again.merged) == (0, 0, 0)
    assert rows(url, "select count(*) as n from activation.membership_transition")[0]["n"] == 6


def test_activation_refuses_held_transitions_until_approved(cycle, tmp_path):
    from activation.runner import activate

    url, _, _ = cycle
    settings = Settings(data_dir=tmp_path, tracking_link_secret="tls_test_tracking_link_secret",
                        public_base_url="https://t.example.com", email_cap_per_day=5, email_cap_per_week=10)
    wendy = person_of(url, "wendy@example.org")
    activate(url, dry_run=True, settings=settings)
    outbox = rows(url, "select status from activation.outbox where segment = %s", (NEW_SEGMENT,))
    assert [r["status"] for r in outbox] == ["held"]
    assert rows(url, "select count(*) as n from activation.email_send")[0]["n"] == 0

    assert approve(url, NEW_SEGMENT, "c1") == 1
    activate(url, dry_run=True, settings=settings)
    sends = rows(url, "select person_id, segment, template, status from activation.email_send")
    assert sends == [{"person_id": wendy, "segment": NEW_SEGMENT, "template": "case_study_drop", "status": "dry_run"}]
    # `won` was not approved: its onboarding sequence has not started
    assert rows(url, "select count(*) as n from activation.sequence_enrollment")[0]["n"] == 0


@pytest.fixture
def cli_env(cycle, monkeypatch):
    url = cycle[0]
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("GDP_DBT_SCHEMA", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_cli_list_show_why_approve(cli_env):
    runner = CliRunner()
    listed = runner.invoke(cli, ["segments", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if row.startswith(NEW_SEGMENT))
    assert line.split()[:4] == [NEW_SEGMENT, "outbound", "1", "0"]  # size 1; the last cycle (c2) moved nobody
    assert len([row for row in listed.output.splitlines() if row.split()[1:2] in (["newsletter"], ["outbound"])]) == 21

    shown = runner.invoke(cli, ["segments", "show", NEW_SEGMENT])
    assert shown.exit_code == 0, shown.output
    assert "email (template=case_study_drop)" in shown.output and "members now: 1" in shown.output

    why = runner.invoke(cli, ["segments", "why", "replied_negative", "Nina@Example.org"])
    assert why.exit_code == 0, why.output
    assert "qualifies" in why.output and "objection: price" in why.output and "c1" in why.output
    not_in = runner.invoke(cli, ["segments", "why", "won", "nina@example.org"])
    # The condition of won.sql that keeps her out, not a dump of her features.
    assert "is not in won: the condition that fails is\n  deals.current_stage = 'won'" in not_in.output, not_in.output
    assert "outbound_stage:" not in not_in.output

    assert "HELD" in runner.invoke(cli, ["segments", "show", "won"]).output
    approved = runner.invoke(cli, ["segments", "approve", "won", "c1"])
    assert approved.exit_code == 0 and "approved 1 held transitions of won in cycle c1" in approved.output
    assert "approved" in runner.invoke(cli, ["segments", "show", "won"]).output
    again = runner.invoke(cli, ["segments", "approve", "won", "c1"])
    assert again.exit_code == 1 and "already approved" in again.output
    unknown = runner.invoke(cli, ["segments", "show", "no_such_segment"])
    assert unknown.exit_code == 1 and "no segment named 'no_such_segment'" in unknown.output


def test_preview_lists_who_would_enter_and_exit(cycle, tmp_path):
    url, _, _ = cycle
    nina = person_of(url, "nina@example.org")
    with psycopg.connect(url, autocommit=True) as conn:
        # make live membership differ from what the working-tree SQL yields
        conn.execute("delete from analytics.segment_member where segment = 'replied_negative'")
        conn.execute(
            "insert into analytics.segment_member values ('replied_negative', 'p_ghost', now(), '{}'::jsonb)"
        )
    try:
        result = preview_segment(url, "replied_negative", settings=Settings(), target_path=tmp_path)
        assert (result.live_size, result.new_size, result.entering, result.exiting) == (1, 1, 1, 1)
        assert result.entering_sample == [(nina, "nina@example.org")]
        assert result.exiting_sample == [("p_ghost", None)]
        assert not result.would_hold and not result.is_new_segment
        assert "would enter: 1   would exit: 1" in result.report()
        assert rows(url, "select count(*) as n from analytics_preview.replied_negative")[0]["n"] == 1
        # live membership is untouched by a preview
        assert rows(url, "select person_id from analytics.segment_member where segment = 'replied_negative'") == [
            {"person_id": "p_ghost"}
        ]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from analytics.segment_member where segment = 'replied_negative'")
            conn.execute(
                "insert into analytics.segment_member select 'replied_negative', person_id, qualified_at,"
                " to_jsonb(r) - 'person_id' - 'qualified_at' from analytics.replied_negative r"
            )
