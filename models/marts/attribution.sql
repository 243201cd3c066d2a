{#- First-touch and last-touch campaign credit per conversion, within
    var `attribution_window_days` before it (email -> click -> session -> conversion).
    Conversions: the event types seed event_vocabulary marks is_conversion (one per
    order or won deal); revenue attached (checkout total, deal amount). -#}
with

events as (
    select * from {{ ref('event') }}
),

touches as (
    select * from {{ ref('int_attribution__touches') }}
),

subscriptions as (
    select
        subscription_id,
        mrr_cents,
        currency
    from {{ ref('subscription') }}
),

conversions as (
    select
        events.event_id as conversion_event_id,
        events.person_id,
        events.event_type as conversion_type,
        events.occurred_at as converted_at,
        events.source,
        case
            when events.event_type = 'subscription_started' then subscriptions.mrr_cents
            else (events.properties ->> 'amount_cents')::bigint
        end as revenue_cents,
        coalesce(events.properties ->> 'currency', subscriptions.currency) as currency,
        events.campaign_id as conversion_campaign_id
    from events
    left join subscriptions
        on events.event_type = 'subscription_started'
            and subscriptions.subscription_id = events.properties ->> 'subscription_id'
    where
        events.event_type in (
            select conversion_types.event_type from {{ ref('event_vocabulary') }} as conversion_types
            where conversion_types.is_conversion
        )
        and events.person_id is not null
),

in_window as (
    select
        conversions.conversion_event_id,
        touches.touch_event_id,
        touches.touched_at,
        touches.campaign_id,
        touches.channel,
        row_number() over (partition by conversions.conversion_event_id order by touches.touched_at, touches.touch_event_id) as first_rank,
        row_number()
            over (partition by conversions.conversion_event_id order by touches.touched_at desc, touches.touch_event_id desc)
            as last_rank,
        count(*) over (partition by conversions.conversion_event_id) as touch_count
    from conversions
    inner join touches
        on conversions.person_id = touches.person_id
            and conversions.converted_at >= touches.touched_at
            and touches.touched_at > conversions.converted_at - interval '{{ var("attribution_window_days") }} days'
),

final as (
    select
        conversions.conversion_event_id,
        conversions.person_id,
        conversions.conversion_type,
        conversions.converted_at,
        conversions.revenue_cents,
        conversions.currency,
        first_touch.campaign_id as first_touch_campaign_id,
        first_touch.channel as first_touch_channel,
        first_touch.touched_at as first_touch_at,
        first_touch.touch_event_id as first_touch_event_id,
        last_touch.campaign_id as last_touch_campaign_id,
        last_touch.channel as last_touch_channel,
        last_touch.touched_at as last_touch_at,
        last_touch.touch_event_id as last_touch_event_id,
        coalesce(first_touch.touch_count, 0) as touches_in_window,
        first_touch.touch_event_id is not null as is_attributed,
        {{ var("attribution_window_days") }} as attribution_window_days
    from conversions
    left join in_window as first_touch
        on conversions.conversion_event_id = first_touch.conversion_event_id and first_touch.first_rank = 1
    left join in_window as last_touch
        on conversions.conversion_event_id = last_touch.conversion_event_id and last_touch.last_rank = 1
)

select * from final
