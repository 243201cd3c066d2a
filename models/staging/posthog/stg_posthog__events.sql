{#- One row per PostHog event; the properties that matter to identity, pages and
    attribution unpacked. `$identify` carries $anon_distinct_id, `$create_alias`
    carries alias: both become identity edges. -#}
with

source as (
    select * from {{ source('posthog', 'posthog_event') }}
    where {{ readable_row('posthog_event') }}
),

unpacked as (
    select
        uuid as posthog_event_id,
        landing_id,
        received_at,
        event_name,
        coalesce(distinct_id, {{ json_get_text('payload', 'distinct_id') }}) as distinct_id,
        coalesce(occurred_at, {{ try_cast_as(json_get_text('payload', 'timestamp'), 'timestamp') }}, received_at) as occurred_at,
        via,
        coalesce({{ json_get('payload', 'properties') }}, {{ json_empty_object() }}) as properties,
        coalesce({{ json_get_text('payload', ['properties', '$current_url']) }}, {{ json_get_text('payload', 'url') }}) as current_url,
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
        lower(coalesce({{ json_get_text('properties', '$pathname') }}, {{ regexp_extract_group('current_url', '^[a-z]+://[^/?#]+([^?#]*)') }})) as url_path,
        {{ json_get_text('properties', '$session_id') }} as session_id,
        {{ json_get_text('properties', '$anon_distinct_id') }} as anon_distinct_id,
        {{ json_get_text('properties', 'alias') }} as alias_distinct_id,
        coalesce(
            {{ json_get_text('properties', ['$set', 'email']) }},
            {{ json_get_text('properties', 'email') }},
            {{ json_get_text('payload', ['person', 'properties', 'email']) }}
        ) as email,
        coalesce({{ json_get_text('properties', 'gdp_click_id') }}, {{ regexp_extract_group('current_url', '[?&]gdp_click_id=([^&#]+)') }}) as click_id,
        coalesce({{ json_get_text('properties', 'utm_campaign') }}, {{ regexp_extract_group('current_url', '[?&]utm_campaign=([^&#]+)') }}) as utm_campaign,
        coalesce({{ json_get_text('properties', 'utm_source') }}, {{ regexp_extract_group('current_url', '[?&]utm_source=([^&#]+)') }}) as utm_source,
        coalesce({{ json_get_text('properties', 'utm_medium') }}, {{ regexp_extract_group('current_url', '[?&]utm_medium=([^&#]+)') }}) as utm_medium,
        properties
    from unpacked
)

select * from final
