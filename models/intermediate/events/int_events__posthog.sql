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

candidates as (
    {#- Each event once with its name's mapping, a page view once per page pattern its path
        matches, ranked so the pattern of lowest priority comes first (a join and a rank
        rather than a lateral `limit 1`, which Spark does not run). One pass over the events,
        partitioned by arrival and id (the same partitions as by id: an event arrives once),
        so a filter on received_at (the incremental reads of `event` and the capture counts)
        reaches the staging view and the raw table's index instead of ranking every page
        view of history. #}
    select
        posthog.*,
        posthog_event_names.event_type as mapped_event_type,
        page_patterns.event_type as page_event_type,
        page_patterns.page_group,
        row_number() over (
            partition by posthog.received_at, posthog.posthog_event_id
            order by page_patterns.priority, page_patterns.url_pattern
        ) as match_rank
    from posthog
    left join posthog_event_names on posthog.event_name = posthog_event_names.event_name
    left join page_patterns
        on posthog_event_names.event_type = 'page_viewed' and posthog.url_path like page_patterns.url_pattern
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
            when posthog.mapped_event_type = 'page_viewed' then coalesce(posthog.page_event_type, 'page_viewed')
            else posthog.mapped_event_type
        end as event_type,
        {{ identity_key('posthog_distinct_id', 'posthog.distinct_id') }} as identity_key,
        posthog.utm_campaign as campaign_id,
        {{ typed_null('text') }} as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['url', 'posthog.current_url'],
            ['path', 'posthog.url_path'],
            ['page_group', 'posthog.page_group'],
            ['session_id', 'posthog.session_id'],
            ['click_id', 'posthog.click_id'],
            ['utm_source', 'posthog.utm_source'],
            ['utm_medium', 'posthog.utm_medium'],
            ['via', 'posthog.via'],
        ]) }} as properties,
        case
            when posthog.event_name in ('$identify', '$create_alias', '$set', '$groupidentify')
                then 'identity only: ' || posthog.event_name || ' (feeds identity_link)'
            when posthog.mapped_event_type is null
                then 'not in posthog_event_names: ' || posthog.event_name
        end as excluded_reason
    from candidates as posthog
    where posthog.match_rank = 1
)

select * from final
