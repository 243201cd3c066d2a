{#- Unsubscribes from our own email links: each is an `email_unsubscribed` event of
    the person the link was minted for, which person_features turns into is_unsubscribed. -#}
with

requests as (
    select * from {{ ref('stg_unsubscribe__requests') }}
),

final as (
    select
        {{ event_id('unsubscribe', 'unsubscribe_id') }} as event_id,
        'unsubscribe' as source,
        'unsubscribe' as raw_table,
        unsubscribe_id as raw_key,
        landing_id,
        received_at,
        unsubscribed_at as occurred_at,
        method as source_event,
        'email_unsubscribed' as event_type,
        {{ identity_key('person_id', 'person_id') }} as identity_key,
        campaign_id,
        {{ typed_null('text') }} as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([['method', 'method']]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from requests
)

select * from final
