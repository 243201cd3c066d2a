"""Sales pipeline: POST /api/deals/events, `gdp deal move`, `gdp leads import`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from gdp.settings import MissingSetting, Settings, get_settings
from ingest_app.imports.deals import STAGES
from tests.conftest import TEST_SECRETS
from tools.simulate.deliveries import deal_event_request, encode

TOKEN = TEST_SECRETS["api_token"]


def post(client, body, token=TOKEN, headers=None):
    request = deal_event_request(body, token)
    return client.post(request.path, data=request.body, headers=headers if headers is not None else request.headers)


def deal_rows(conn):
    return conn.execute(
        "select deal_event_id, email, stage, note, objection, owner, occurred_at, via from raw.deal_event order by landing_id"
    ).fetchall()


# --- API ------------------------------------------------------------------------


def test_a_move_with_client_event_id_lands_once(client, clean_raw):
    body = {
        "email": "  Ada.Lovelace@Example.ORG ",
        "stage": "replied_positive",
        "note": "wants a demo next week",
        "objection": "timing",
        "owner": "sam",
        "occurred_at": "2026-11-20T10:15:00+01:00",
        "event_id": "crm-evt-1",
    }
    first = post(client, body)
    assert first.status_code == 200 and first.json == {"ok": True, "duplicate": False, "id": "crm-evt-1"}
    retry = post(client, body)
    assert retry.status_code == 200 and retry.json["duplicate"] is True
    assert deal_rows(clean_raw) == [
        (
            "crm-evt-1",
            "ada.lovelace@example.org",
            "replied_positive",
            "wants a demo next week",
            "timing",
            "sam",
            datetime(2026, 11, 20, 9, 15, tzinfo=timezone.utc),
            "api",
        )
    ]


def test_without_event_id_each_call_is_a_move(client, clean_raw):
    first = post(client, {"email": "a@b.co", "stage": "contacted"})
    second = post(client, {"email": "a@b.co", "stage": "booked"})
    assert first.json["id"] != second.json["id"]
    assert [r[2] for r in deal_rows(clean_raw)] == ["contacted", "booked"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_is_accepted(client, clean_raw, stage):
    assert post(client, {"email": "a@b.co", "stage": stage}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}extra"},
        {"Authorization": TOKEN},
    ],
    ids=["absent", "wrong", "basic", "longer", "no-scheme"],
)
def test_wrong_token_is_401_and_stores_nothing(client, clean_raw, headers):
    response = post(client, {"email": "a@b.co", "stage": "won"}, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 401 and response.json["error"] == "missing or wrong bearer token"
    assert deal_rows(clean_raw) == []


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"stage": "won"}, "email is required"),
        ({"email": "not-an-email", "stage": "won"}, "email 'not-an-email' is not a valid address"),
        ({"email": "a@b", "stage": "won"}, "email 'a@b' is not a valid address"),
        ({"email": "a@b.co"}, "stage is required, one of: " + ", ".join(STAGES)),
        ({"email": "a@b.co", "stage": "closed"}, "stage 'closed' is not one of: " + ", ".join(STAGES)),
        ({"email": "a@b.co", "stage": "won", "occurred_at": "last tuesday"},
         "occurred_at 'last tuesday' is not an ISO 8601 timestamp"),
        ({"email": "a@b.co", "stage": "won", "note": 5}, "note must be a string"),
        ({"email": "a@b.co", "stage": "won", "event_id": {"x": 1}}, "event_id must be a string of at most 200 characters"),
    ],
    ids=["no-email", "bad-email", "no-tld", "no-stage", "unknown-stage", "bad-time", "note-not-text", "bad-event-id"],
)
def test_invalid_moves_are_400_with_the_reason(client, clean_raw, body, reason):
    response = post(client, body)
    assert response.status_code == 400 and response.json["error"] == reason
    assert deal_rows(clean_raw) == []


def test_non_json_body_is_400(client, clean_raw):
    request = deal_event_request({}, TOKEN)
    response = client.post(request.path, data=b"email=a@b.co", headers=request.headers)
    assert response.status_code == 400 and response.json["error"] == "body is not valid JSON"
    response = client.post(request.path, data=encode(["a@b.co"]), headers=request.headers)
    assert response.status_code == 400 and response.json["error"] == "body must be a JSON object"


def test_missing_api_token_refuses_to_start(database_url):
    from ingest_app import create_app

    secrets = {k: v for k, v in TEST_SECRETS.items() if k != "api_token"}
    with pytest.raises(MissingSetting, match="GDP_API_TOKEN"):
        create_app(Settings(**secrets), {"DATABASE_URL": database_url})


# --- CLI --------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    from gdp.cli import main

    yield lambda *args: CliRunner().invoke(main, list(args))
    get_settings.cache_clear()


def test_deal_move_writes_the_same_row_as_the_api(cli, client, clean_raw):
    result = cli("deal", "move", " Grace@Example.org", "proposal_sent", "--note", "sent v2", "--objection", "price",
                 "--event-id", "cli-1", "--at", "2026-11-21T08:00:00Z")
    assert result.exit_code == 0, result.output
    assert "recorded: grace@example.org -> proposal_sent (event cli-1)" in result.output
    again = cli("deal", "move", "grace@example.org", "proposal_sent", "--event-id", "cli-1")
    assert again.exit_code == 0 and "already recorded" in again.output
    post(client, {"email": "grace@example.org", "stage": "won", "event_id": "api-1"})
    assert [(r[0], r[1], r[2], r[3], r[4], r[7]) for r in deal_rows(clean_raw)] == [
        ("cli-1", "grace@example.org", "proposal_sent", "sent v2", "price", "cli"),
        ("api-1", "grace@example.org", "won", None, None, "api"),
    ]


def test_deal_move_refuses_a_bad_stage_or_email(cli, clean_raw):
    result = cli("deal", "move", "a@b.co", "maybe")
    assert result.exit_code == 1
    assert "stage 'maybe' is not one of: lead, contacted," in result.output
    result = cli("deal", "move", "nobody", "won")
    assert result.exit_code == 1 and "email 'nobody' is not a valid address" in result.output
    assert deal_rows(clean_raw) == []


def leads(conn):
    return conn.execute("select email, name, company, owner, source from raw.lead order by email").fetchall()


def write(tmp_path, text, name="leads.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_leads_import_is_idempotent_by_email(cli, clean_raw, tmp_path):
    first = write(tmp_path, (
        "email,name,company,owner,source\n"
        "ada@example.org,Ada,Analytical,sam,apollo\n"
        " Bob@Example.org ,Bob,Builders,,linkedin\n"
    ))
    result = cli("leads", "import", str(first))
    assert result.exit_code == 0, result.output
    assert "2 inserted, 0 updated, 0 unchanged, 0 invalid" in result.output
    assert cli("leads", "import", str(first)).output.strip().endswith("0 inserted, 0 updated, 2 unchanged, 0 invalid")

    second = write(tmp_path, (
        "Email,Name,Company,Owner,Source\n"
        "ADA@example.org,Ada Lovelace,,kim,\n"
        "carol@example.org,Carol,Cars,kim,apollo\n"
    ), "second.csv")
    result = cli("leads", "import", str(second))
    assert "1 inserted, 1 updated, 0 unchanged, 0 invalid" in result.output
    assert leads(clean_raw) == [
        # An empty cell keeps what an earlier import stored.
        ("ada@example.org", "Ada Lovelace", "Analytical", "kim", "apollo"),
        ("bob@example.org", "Bob", "Builders", None, "linkedin"),
        ("carol@example.org", "Carol", "Cars", "kim", "apollo"),
    ]


def test_leads_import_reports_invalid_rows_with_line_numbers(cli, clean_raw, tmp_path):
    path = write(tmp_path, (
        "\ufeffemail,name,company\n"
        "ok@example.org,Ok,Co\n"
        "not-an-email,Bad,Co\n"
        ",Empty,Co\n"
        "\n"
        "also@example.org,Also,Co,extra-cell\n"
        "fine@example.org,Fine,Co\n"
    ))
    result = cli("leads", "import", str(path))
    assert result.exit_code == 0
    assert "line 3: email 'not-an-email' is not a valid address" in result.output
    assert "line 4: email is required" in result.output
    assert "line 6: more cells than columns" in result.output
    assert "2 inserted, 0 updated, 0 unchanged, 3 invalid" in result.output
    assert [r[0] for r in leads(clean_raw)] == ["fine@example.org", "ok@example.org"]


def test_leads_import_strict_stores_nothing_when_a_row_is_bad(cli, clean_raw, tmp_path):
    path = write(tmp_path, "email,name\nok@example.org,Ok\nbroken,Bad\n")
    result = cli("leads", "import", "--strict", str(path))
    assert result.exit_code == 1
    assert "line 3: email 'broken' is not a valid address" in result.output
    assert "nothing imported (--strict)" in result.output
    assert leads(clean_raw) == []


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,company\nAda,Co\n", "has no 'email' column (columns: name, company)"),
        ("", "is empty"),
    ],
    ids=["no-email-column", "empty-file"],
)
def test_leads_import_refuses_unusable_files(cli, clean_raw, tmp_path, content, message):
    result = cli("leads", "import", str(write(tmp_path, content)))
    assert result.exit_code == 1 and message in result.output
    assert leads(clean_raw) == []


def test_leads_import_missing_or_binary_file(cli, clean_raw, tmp_path):
    missing = cli("leads", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"email\n\xff\xfe\x00bad\n")
    result = cli("leads", "import", str(binary))
    assert result.exit_code == 1
    assert "is not a UTF-8 CSV file" in result.output
    assert leads(clean_raw) == []


def test_leads_import_reports_duplicate_rows_instead_of_collapsing_them_silently(cli, clean_raw, tmp_path):
    path = write(tmp_path, (
        "email,name,company\n"
        "ada@example.org,Ada,Analytical\n"
        "bob@example.org,Bob,Builders\n"
        " ADA@example.org ,Ada Lovelace,Analytical\n"
    ))
    result = cli("leads", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "line 2: ada@example.org again on line 4; line 4 kept" in result.output
    assert "2 inserted, 0 updated, 0 unchanged, 0 invalid, 1 duplicate rows (the last row of each email kept)" in result.output
    assert [r[:2] for r in leads(clean_raw)] == [("ada@example.org", "Ada Lovelace"), ("bob@example.org", "Bob")]
