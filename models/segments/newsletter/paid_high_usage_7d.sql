{#- Paying, with at least 20 usage events (var paid_high_usage_min_7d) in the last
    7 days. qualified_at is the usage event that reached the threshold. -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

usage as (
    select
        person_id,
        occurred_at,
        row_number() over (partition by person_id order by occurred_at, event_id) as usage_number,
        count(*) over (partition by person_id) as usage_events_7d
    from events
    where event_type in ('feature_used', 'activated')
        and person_id is not null
        and occurred_at > {{ as_of() }} - interval '7 days'
        and occurred_at <= {{ as_of() }}
),

final as (
    select
        usage.person_id,
        usage.occurred_at as qualified_at,
        person_features.plan,
        usage.usage_events_7d
    from usage
    inner join person_features on usage.person_id = person_features.person_id
    where usage.usage_number = {{ var("paid_high_usage_min_7d") }}
        and person_features.is_paying
)

select * from final
