{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['person_id'], 'unique': true}],
) }}
{#- Per person, what person and person_features take from `event` that does not move with
    the clock (first touch, flags, latest moments). Incremental: a build recomputes only the
    changed persons (macros/changed_persons.sql: new events, moved identifiers), so a cycle
    reads their events, not the history. A changed person left with no event gets a row of
    nulls, which reads as no row. On Spark (parquet: no delete) it is a table rebuilt each
    cycle, the full build's rows (changed_persons takes every person with an event). -#}
with

changed as (
    {{ changed_persons() }}
),

conversion_types as (
    select distinct event_type from {{ ref('event_vocabulary') }}
    where is_conversion
),

events as (
    {#- the conversion flag joined here, not `in (select ...)` inside bool_or: Spark takes
        subqueries in filters and joins only -#}
    select
        events.*,
        conversion_types.event_type is not null as is_conversion
    from {{ ref('event') }} as events
    inner join changed on events.person_id = changed.person_id
    left join conversion_types on events.event_type = conversion_types.event_type
),

final as (
    select
        changed.person_id,
        min(events.occurred_at) as first_event_at,
        max(events.occurred_at) as last_seen_at,
        {{ first_by('events.source', ['events.occurred_at', 'events.event_id'], 'events.event_id is not null') }} as first_touch_source,
        {{ first_by('events.event_type', ['events.occurred_at', 'events.event_id'], 'events.event_id is not null') }}
            as first_touch_event_type,
        {{ first_by('events.campaign_id', ['events.occurred_at', 'events.event_id'], 'events.event_id is not null') }}
            as first_touch_campaign_id,
        {{ first_by('events.funnel', ['events.occurred_at', 'events.event_id'], 'events.funnel is not null') }} as first_funnel,
        bool_or(events.event_type = 'signed_up') as has_signed_up,
        bool_or(events.is_conversion) as has_converted,
        bool_or(events.source in ('lead', 'deal')) as has_sales_touch,
        min(events.occurred_at) filter (where events.event_type = 'signed_up') as signup_at,
        min(events.occurred_at) filter (where events.event_type = 'activated') as activated_at,
        max(events.occurred_at) filter (
            where events.source in ('posthog', 'app') or events.event_type in ('feature_used', 'activated', 'signed_up')
        ) as last_active_at,
        count(*) filter (where events.event_type = 'offer_page_viewed') as offer_page_visits_total,
        max(events.occurred_at) filter (where events.event_type = 'checkout_started') as last_checkout_started_at,
        max(events.occurred_at) filter (where events.event_type in ('checkout_completed', 'purchased')) as last_checkout_completed_at,
        max(events.occurred_at) filter (where events.event_type in ('link_clicked', 'email_clicked')) as last_clicked_at,
        bool_or(events.event_type = 'email_bounced') as is_bounced,
        bool_or(events.event_type = 'email_complained') as is_complained,
        bool_or(events.event_type = 'email_unsubscribed') as is_unsubscribed,
        min(events.occurred_at) filter (where events.event_type = 'call_booked') as first_call_booked_at,
        max(events.occurred_at) filter (where events.event_type = 'call_booked') as last_call_booked_at,
        max(events.occurred_at) filter (where events.event_type = 'call_canceled') as last_call_canceled_at,
        max(events.occurred_at) filter (where events.event_type = 'no_show') as last_no_show_at,
        max(events.occurred_at) filter (where events.event_type = 'meeting_ended') as last_meeting_ended_at,
        max(events.occurred_at) filter (where events.event_type = 'replied_positive') as last_replied_positive_at,
        max(events.occurred_at) filter (where events.event_type = 'replied_negative') as last_replied_negative_at,
        max(events.occurred_at) filter (where events.event_type = 'email_received') as last_email_reply_at,
        {{ changed_persons_marks() }}
    from changed
    left join events on changed.person_id = events.person_id
    group by changed.person_id
)

select * from final
