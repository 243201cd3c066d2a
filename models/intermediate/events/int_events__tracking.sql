{#- Tracked-link clicks. Bot and prefetch requests are kept in raw but are not touches. -#}
with

clicks as (
    select * from {{ ref('stg_tracking__clicks') }}
),

final as (
    select
        {{ event_id('tracking', 'click_id') }} as event_id,
        'tracking' as source,
        'click' as raw_table,
        click_id as raw_key,
        landing_id,
        received_at,
        clicked_at as occurred_at,
        'click' as source_event,
        {{ typed_null('text') }} as event_type,
        coalesce({{ identity_key('person_id', 'person_id') }}, {{ identity_key('click_id', 'click_id') }}) as identity_key,
        coalesce(campaign_id, utm_campaign) as campaign_id,
        funnel,
        email_id,
        {{ json_object([
            ['click_id', 'click_id'],
            ['url', 'destination_url'],
            ['path', 'destination_path'],
            ['referrer', 'referrer'],
            ['fbclid', 'fbclid'],
            ['utm', 'utm', 'json'],
        ]) }} as properties,
        case when is_bot then 'bot click: ' || coalesce(bot_reason, 'flagged') end as excluded_reason
    from clicks
)

select * from final
