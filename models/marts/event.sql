{#- The unified event table: one row per provider event that means something,
    with its person resolved through identity_link. -#}
with

events as (
    select * from {{ ref('int_events__unioned') }}
    where excluded_reason is null
),

identity_link as (
    select identity_key, person_id from {{ ref('identity_link') }}
),

final as (
    select
        events.event_id,
        identity_link.person_id,
        events.occurred_at,
        events.source,
        events.event_type,
        events.source_event,
        events.campaign_id,
        events.funnel,
        events.email_id,
        events.properties,
        events.identity_key,
        events.raw_table,
        events.raw_key,
        events.landing_id,
        events.received_at
    from events
    left join identity_link on identity_link.identity_key = events.identity_key
)

select * from final
