{#- Deal moves and lead imports in the shape of `event`. -#}
with

deals as (
    select * from {{ ref('stg_deals__events') }}
),

leads as (
    select * from {{ ref('stg_deals__leads') }}
),

deal_events as (
    select
        {{ event_id('deal', 'deal_event_id') }} as event_id,
        'deal' as source,
        'deal_event' as raw_table,
        deal_event_id as raw_key,
        landing_id,
        received_at,
        occurred_at,
        stage as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('email', 'email') }} as identity_key,
        {{ typed_null('text') }} as campaign_id,
        'outbound' as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['deal_id', 'deal_id'], ['stage', 'stage'], ['objection', 'objection'], ['owner', 'owner'], ['note', 'note'],
            ['amount_cents', 'amount_cents'], ['via', 'via'],
        ]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from deals
),

lead_events as (
    select
        {{ event_id('lead', 'raw_email') }} as event_id,
        'lead' as source,
        'lead' as raw_table,
        raw_email as raw_key,
        landing_id,
        received_at,
        imported_at as occurred_at,
        'imported' as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('email', 'email') }} as identity_key,
        {{ typed_null('text') }} as campaign_id,
        'outbound' as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([['company', 'company'], ['owner', 'owner'], ['lead_source', 'lead_source']]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from leads
),

final as (
    select * from deal_events
    union all
    select * from lead_events
)

select * from final
