with

capi as (
    select * from {{ ref('stg_meta__capi_events') }}
),

final as (
    select
        {{ event_id('meta_capi', 'capi_event_id') }} as event_id,
        'meta_capi' as source,
        'meta_capi_event' as raw_table,
        capi_event_id as raw_key,
        landing_id,
        received_at,
        occurred_at,
        event_name as source_event,
        {{ typed_null('text') }} as event_type,
        coalesce({{ identity_key('person_id', 'person_id') }}, {{ identity_key('fbp', 'fbp') }}) as identity_key,
        {{ typed_null('text') }} as campaign_id,
        {{ typed_null('text') }} as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['event_name', 'event_name'],
            ['meta_event_id', 'capi_event_id'],
            ['url', 'event_source_url'],
            ['action_source', 'action_source'],
            ['value', 'value'],
            ['currency', 'currency'],
        ]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from capi
)

select * from final
