{#- PostHog events in the shape of `event`. Page views become pricing_viewed /
    offer_page_viewed by the seed page_patterns; other names map through the seed
    posthog_event_names; identity-only events are recorded as excluded. -#}
with

posthog as (
    select * from {{ ref('stg_posthog__events') }}
),

posthog_event_names as (
    select * from {{ ref('posthog_event_names') }}
),

page_patterns as (
    select * from {{ ref('page_patterns') }}
),

final as (
    select
        {{ event_id('posthog', 'posthog.posthog_event_id') }} as event_id,
        'posthog' as source,
        'posthog_event' as raw_table,
        posthog.posthog_event_id as raw_key,
        posthog.landing_id,
        posthog.received_at,
        posthog.occurred_at,
        posthog.event_name as source_event,
        case
            when posthog_event_names.event_type = 'page_viewed' then coalesce(page_match.event_type, 'page_viewed')
            else posthog_event_names.event_type
        end as event_type,
        {{ identity_key('posthog_distinct_id', 'posthog.distinct_id') }} as identity_key,
        posthog.utm_campaign as campaign_id,
        null::text as funnel,
        null::text as email_id,
        jsonb_strip_nulls(jsonb_build_object(
            'url', posthog.current_url,
            'path', posthog.url_path,
            'page_group', page_match.page_group,
            'session_id', posthog.session_id,
            'click_id', posthog.click_id,
            'utm_source', posthog.utm_source,
            'utm_medium', posthog.utm_medium,
            'via', posthog.via
        )) as properties,
        case
            when posthog.event_name in ('$identify', '$create_alias', '$set', '$groupidentify')
                then 'identity only: ' || posthog.event_name || ' (feeds identity_link)'
            when posthog_event_names.event_type is null
                then 'not in posthog_event_names: ' || posthog.event_name
        end as excluded_reason
    from posthog
    left join posthog_event_names on posthog.event_name = posthog_event_names.event_name
    left join lateral (
        select
            page_patterns.event_type,
            page_patterns.page_group
        from page_patterns
        where posthog.url_path like page_patterns.url_pattern
        order by page_patterns.priority
        limit 1
    ) as page_match on posthog_event_names.event_type = 'page_viewed'
)

select * from final
