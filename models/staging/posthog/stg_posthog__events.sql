{#- One row per PostHog event; the properties that matter to identity, pages and
    attribution unpacked. `$identify` carries $anon_distinct_id, `$create_alias`
    carries alias: both become identity edges. -#}
with

source as (
    select * from {{ source('posthog', 'posthog_event') }}
),

unpacked as (
    select
        uuid as posthog_event_id,
        landing_id,
        received_at,
        event_name,
        coalesce(distinct_id, payload ->> 'distinct_id') as distinct_id,
        coalesce(occurred_at, (payload ->> 'timestamp')::timestamptz, received_at) as occurred_at,
        via,
        coalesce(payload -> 'properties', '{}'::jsonb) as properties,
        coalesce(payload -> 'properties' ->> '$current_url', payload ->> 'url') as current_url,
        payload
    from source
),

final as (
    select
        posthog_event_id,
        landing_id,
        received_at,
        event_name,
        distinct_id,
        occurred_at,
        via,
        current_url,
        lower(coalesce(properties ->> '$pathname', substring(current_url from '^[a-z]+://[^/?#]+([^?#]*)'))) as url_path,
        properties ->> '$session_id' as session_id,
        properties ->> '$anon_distinct_id' as anon_distinct_id,
        properties ->> 'alias' as alias_distinct_id,
        coalesce(
            properties -> '$set' ->> 'email',
            properties ->> 'email',
            payload -> 'person' -> 'properties' ->> 'email'
        ) as email,
        coalesce(properties ->> 'gdp_click_id', substring(current_url from '[?&]gdp_click_id=([^&#]+)')) as click_id,
        coalesce(properties ->> 'utm_campaign', substring(current_url from '[?&]utm_campaign=([^&#]+)')) as utm_campaign,
        coalesce(properties ->> 'utm_source', substring(current_url from '[?&]utm_source=([^&#]+)')) as utm_source,
        coalesce(properties ->> 'utm_medium', substring(current_url from '[?&]utm_medium=([^&#]+)')) as utm_medium,
        properties
    from unpacked
)

select * from final
