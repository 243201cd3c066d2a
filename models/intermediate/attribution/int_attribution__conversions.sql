{#- One row per conversion (macros/conversion.sql), counted once per order or deal:
    a Stripe checkout is the conversion and the subscription it started is not counted
    again; a subscription started outside Checkout counts on its own; a deal counts at its
    first won move, worth the deal's amount. Revenue stays in separate columns: one-off
    order or deal value (`value_cents`, what attribution credits) and the subscription's
    MRR (`mrr_cents`), never added together. -#}
with

events as (
    select * from {{ ref('event') }}
    where {{ is_conversion('event_type') }}
        and person_id is not null
),

subscriptions as (
    select
        subscription_id,
        mrr_cents,
        currency
    from {{ ref('subscription') }}
),

deals as (
    select
        deal_id,
        amount_cents
    from {{ ref('deal') }}
),

checkouts as (
    select
        event_id,
        person_id,
        event_type,
        occurred_at,
        source,
        properties ->> 'subscription_id' as subscription_id,
        (properties ->> 'amount_cents')::bigint as order_amount_cents,
        properties ->> 'currency' as currency
    from events
    where event_type = 'checkout_completed'
),

subscription_starts as (
    select
        events.event_id,
        events.person_id,
        events.event_type,
        events.occurred_at,
        events.source,
        events.properties ->> 'subscription_id' as subscription_id,
        null::bigint as order_amount_cents,
        coalesce(events.properties ->> 'currency', subscriptions.currency) as currency
    from events
    left join subscriptions on events.properties ->> 'subscription_id' = subscriptions.subscription_id
    where events.event_type = 'subscription_started'
        and not exists (
            select 1 from checkouts
            where checkouts.subscription_id = events.properties ->> 'subscription_id'
        )
),

deal_wins as (
    select distinct on (events.properties ->> 'deal_id')
        events.event_id,
        events.person_id,
        events.event_type,
        events.occurred_at,
        events.source,
        null::text as subscription_id,
        deals.amount_cents as order_amount_cents,
        'usd' as currency
    from events
    left join deals on events.properties ->> 'deal_id' = deals.deal_id
    where events.event_type = 'deal_won'
    order by events.properties ->> 'deal_id', events.occurred_at, events.event_id
),

orders as (
    select * from checkouts
    union all
    select * from subscription_starts
    union all
    select * from deal_wins
),

final as (
    select
        orders.event_id as conversion_event_id,
        orders.person_id,
        orders.event_type as conversion_type,
        orders.occurred_at as converted_at,
        orders.source,
        orders.subscription_id,
        coalesce(orders.order_amount_cents, 0)::numeric as value_cents,
        subscriptions.mrr_cents::numeric as mrr_cents,
        lower(coalesce(orders.currency, subscriptions.currency)) as currency
    from orders
    left join subscriptions on orders.subscription_id = subscriptions.subscription_id
)

select * from final
