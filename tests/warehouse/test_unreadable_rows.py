"""Issue 13, finding 4: a raw row staging cannot cast no longer stops the cycle.

Hostile rows land straight into raw for every source whose staging casts text (a createdAt
that is not a date, an amount that is not a number, a timestamp beyond any calendar...);
the whole cycle selection builds green, staging leaves those rows out, and
int_capture__unreadable_rows names each with its field and reason; capture_completeness
counts them as excluded.
"""

from __future__ import annotations

import pytest

from tests.dbt_helpers import build, private_database, rows
from tests.hostile_raw import EXPECTED, land_hostile


@pytest.fixture(scope="module")
def hostile_url(server_url):
    with private_database(server_url) as url:
        land_hostile(url)
        yield url


@pytest.mark.slow  # builds dbt or waits out timeouts; CI's full suite runs it
def test_cycle_is_green_and_shows_every_unreadable_row(hostile_url, tmp_path):
    build(hostile_url, tmp_path / "target", "--selector", "cycle")

    unreadable = rows(hostile_url, "select * from analytics.int_capture__unreadable_rows")
    assert {(r["raw_table"], r["raw_key"], r["field"]) for r in unreadable} == EXPECTED
    reasons = {(r["raw_key"], r["field"]): r["reason"] for r in unreadable}
    assert reasons[("cal_bad_created", "createdAt")] == "not a timestamp: not-a-date"
    assert reasons[("deal_bad", "amount_cents")] == "not a number: a lot"
    assert reasons[("evt_far_future", "created")].startswith("not unix seconds: ")
    assert reasons[("evt_bad_quantity", "data.object.items.data[].quantity")] == "not a number in an element"
    assert all(r["received_at"] is not None for r in unreadable)

    # Staging left them out and kept the readable one.
    assert [r["delivery_id"] for r in rows(hostile_url, "select delivery_id from analytics.stg_cal__bookings")] == ["cal_fine"]
    assert rows(hostile_url, "select count(*) as n from analytics.stg_stripe__events")[0]["n"] == 0
    assert rows(hostile_url, "select count(*) as n from analytics.stg_resend__events")[0]["n"] == 0

    # capture_completeness counts them as excluded, with the field, and none as missing.
    completeness = {r["raw_table"]: r for r in rows(hostile_url, "select * from analytics.capture_completeness")}
    cal = completeness["cal_event"]
    assert (cal["raw_rows"], cal["excluded_rows"], cal["missing_rows"]) == (3, 2, 0)
    assert cal["excluded_reasons"] == {"unreadable: createdAt": 1, "unreadable: payload.attendees[].noShow": 1}
    assert completeness["stripe_event"]["excluded_rows"] == 4
    assert all(r["missing_rows"] == 0 for r in completeness.values())
