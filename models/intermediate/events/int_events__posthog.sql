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

ranked_page_matches as (
    {#- Each page view's pattern of lowest priority (a join and a rank rather than a lateral
        `limit 1`, which Spark does not run). #}
    select
        posthog.posthog_event_id,
        page_patterns.event_type,
        page_patterns.page_group,
        row_number() over (
            partition by posthog.posthog_event_id order by page_patterns.priority, page_patterns.url_pattern
        ) as match_rank
    from posthog
    inner join posthog_event_names
        on posthog.event_name = posthog_event_names.event_name and posthog_event_names.event_type = 'page_viewed'
    inner join page_patterns on posthog.url_path like page_patterns.url_pattern
),

page_matches as (
    select
        posthog_event_id,
        event_type,
        page_group
    from ranked_page_matches
    where match_rank = 1
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
        {{ typed_null('text') }} as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['url', 'posthog.current_url'],
            ['path', 'posthog.url_path'],
            ['page_group', 'page_match.page_group'],
            ['session_id', 'posthog.session_id'],
            ['click_id', 'posthog.click_id'],
            ['utm_source', 'posthog.utm_source'],
            ['utm_medium', 'posthog.utm_medium'],
            ['via', 'posthog.via'],
        ]) }} as properties,
        case
            when posthog.event_name in ('$identify', '$create_alias', '$set', '$groupidentify')
                then 'identity only: ' || posthog.event_name || ' (feeds identity_link)'
            when posthog_event_names.event_type is null
                then 'not in posthog_event_names: ' || posthog.event_name
        end as excluded_reason
    from posthog
    left join posthog_event_names on posthog.event_name = posthog_event_names.event_name
    left join page_matches as page_match on posthog.posthog_event_id = page_match.posthog_event_id
)

select * from final
