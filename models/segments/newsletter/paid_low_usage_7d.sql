{#- Paying, with at most 2 usage events (var paid_low_usage_max_7d) in the last 7 days.
    Qualifies when the last usage event that kept them above the threshold left the
    7-day window, or when they started paying, whichever is later. -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

usage_newest_first as (
    select
        person_id,
        occurred_at,
        row_number() over (partition by person_id order by occurred_at desc, event_id desc) as usage_rank
    from events
    where event_type in ('feature_used', 'activated')
        and person_id is not null
        and occurred_at <= {{ as_of() }}
),

dropped_below as (
    -- the newest event that, while inside the window, made usage exceed the threshold
    select
        person_id,
        occurred_at + interval '7 days' as dropped_below_at
    from usage_newest_first
    where usage_rank = {{ var("paid_low_usage_max_7d") }} + 1
),

final as (
    select
        person_features.person_id,
        greatest(person_features.first_subscribed_at, dropped_below.dropped_below_at) as qualified_at,
        person_features.plan,
        person_features.usage_events_7d
    from person_features
    left join dropped_below on person_features.person_id = dropped_below.person_id
    where person_features.is_paying
        and person_features.usage_events_7d <= {{ var("paid_low_usage_max_7d") }}
)

select * from final
