"""`gdp segments why` for a non-member: the first condition of the segment's SQL that drops them."""

from __future__ import annotations

import pytest

from ledger.why import conditions, why_not

SEGMENT = """
with person_features as (
    select * from why_features
),
started as (
    select person_id, coalesce(signup_at, activated_at) as started_at, activated_at, plan
    from person_features
    where activated_at is not null
      and not is_paying
      and plan like '%free%'
),
final as (
    select person_id, started_at
    from started
    where started_at between now() - interval '14 days' and now() - interval '3 days'
      and case when plan = 'free' and activated_at is not null then true else false end
)
select * from final
"""


def test_conditions_split_on_top_level_and_only():
    assert [c.text for c in conditions(SEGMENT)] == [
        "activated_at is not null",
        "not is_paying",
        "plan like '%free%'",
        "started_at between now() - interval '14 days' and now() - interval '3 days'",
        "case when plan = 'free' and activated_at is not null then true else false end",
    ]


@pytest.fixture
def features(conn):
    conn.execute("""create temp table why_features as select * from (values
        ('member', now() - interval '5 days', now() - interval '4 days', false, 'free'),
        ('payer', now() - interval '5 days', now() - interval '4 days', true, 'free'),
        ('fresh', now() - interval '1 day', now() - interval '1 day', false, 'free'),
        ('never', now() - interval '5 days', null::timestamptz, false, 'free')
    ) as t (person_id, signup_at, activated_at, is_paying, plan)""")
    return conn


@pytest.mark.parametrize("person, failed", [
    ("payer", "not is_paying"),
    ("fresh", "started_at between now() - interval '14 days' and now() - interval '3 days'"),
    ("never", "activated_at is not null"),
    ("member", None),
])
def test_why_not_names_the_condition_that_failed(features, person, failed):
    result = why_not(features, SEGMENT, person)
    assert result.condition == failed
    assert result.in_base_rows


def test_a_person_outside_the_base_rows_is_said_so(features):
    result = why_not(features, SEGMENT, "nobody")
    assert result.condition is None and not result.in_base_rows
