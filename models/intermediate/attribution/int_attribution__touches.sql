{#- Campaign touches a conversion can be credited to: email clicks (Resend), human
    tracked-link clicks, and web sessions that landed with a utm_campaign (one touch
    per PostHog session). -#}
with

events as (
    select * from {{ ref('event') }}
    where person_id is not null and campaign_id is not null
),

clicks as (
    select
        event_id as touch_event_id,
        person_id,
        occurred_at as touched_at,
        campaign_id,
        case when source = 'resend' then 'email_click' else 'link_click' end as channel
    from events
    where event_type in ('email_clicked', 'link_clicked')
),

posthog_touches as (
    select
        event_id as touch_event_id,
        person_id,
        occurred_at as touched_at,
        campaign_id,
        'web_session' as channel,
        coalesce({{ json_get_text('properties', 'session_id') }}, event_id) as session_key
    from events
    where source = 'posthog'
),

first_session_touches as (
    {{ latest_row_per_key('posthog_touches', 'person_id, session_key', 'touched_at, touch_event_id') }}
),

sessions as (
    select
        touch_event_id,
        person_id,
        touched_at,
        campaign_id,
        channel
    from first_session_touches
),

final as (
    select * from clicks
    union all
    select * from sessions
)

select * from final
