"""The simulated world's timeline is one a real business could have: causes before effects, spread over days."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from tools.simulate.world import World

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def world():
    w = World(persons=600, days=14, seed=7, now=NOW)
    w.build()
    return w


def _stripe(person, event_type):
    return [t for t in person.touches if t.kind == "stripe" and t.payload["type"] == event_type]


def test_nothing_happens_after_now_and_touches_spread_over_the_days(world):
    touches = world.touches()
    assert max(t.at for t in touches) <= NOW
    assert all(t.at <= NOW for c in touches if c.kind == "click" for t in c.meta["landing"])
    last_hour = sum(t.at > NOW - timedelta(hours=1) for t in touches)
    assert last_hour / len(touches) < 0.02, "touches pile up at the demo's clock"
    days = {t.at.date() for t in touches}
    assert len(days) >= 14


def test_no_subscription_ends_before_it_starts_and_no_deal_is_won_before_its_proposal(world):
    for person in world.persons:
        created = {t.payload["data"]["object"]["id"]: t.at for t in _stripe(person, "customer.subscription.created")}
        for t in _stripe(person, "customer.subscription.deleted") + _stripe(person, "customer.subscription.updated"):
            assert t.at > created[t.payload["data"]["object"]["id"]]
        stages = {t.payload["stage"]: t.at for t in person.touches if t.kind == "deal"}
        if "won" in stages or "lost" in stages:
            assert stages["proposal_sent"] < stages.get("won", stages.get("lost"))
        if "booked" in stages:
            assert stages["contacted"] <= stages["booked"]


def test_clicks_and_tagged_visits_precede_the_purchases_they_lead_to(world):
    buyers = [p for p in world.persons if _stripe(p, "checkout.session.completed")]
    assert len(buyers) >= 30
    touched_first = 0
    for person in buyers:
        bought = _stripe(person, "checkout.session.completed")[0].at
        clicks = [t.at for t in person.touches if t.kind == "click"]
        tagged = [t.at for t in person.touches if t.kind == "posthog"
                  and "utm_campaign" in t.payload["event"]["properties"]]
        touched_first += any(at < bought for at in clicks + tagged)
    assert touched_first / len(buyers) > 0.85


def test_a_click_lands_a_session_carrying_its_campaign(world):
    clicks = [t for t in world.touches() if t.kind == "click"]
    assert clicks
    for click in clicks:
        landing = [t for t in click.meta["landing"] if t.payload["event"]["event"] == "$pageview"]
        assert landing and all(t.at > click.at for t in landing)
        props = [t.payload["event"]["properties"] for t in landing]
        assert all(p["utm_campaign"] == click.payload["campaign_id"] for p in props)
        assert len({p["$session_id"] for p in props}) == 1


def test_the_same_seed_and_clock_give_the_same_world_with_crm_ids(world):
    again = World(persons=600, days=14, seed=7, now=NOW)
    again.build()
    first, second = world.touches(), again.touches()
    assert [(t.at, t.kind, t.payload) for t in first] == [(t.at, t.kind, t.payload) for t in second]
    deal_ids = defaultdict(int)
    for t in first:
        if t.kind == "deal":
            deal_ids[t.payload["event_id"]] += 1
    assert deal_ids and max(deal_ids.values()) == 1
    won = [t for t in first if t.kind == "deal" and t.payload["stage"] == "won"]
    assert won and all(t.payload["amount_cents"] > 0 for t in won)
