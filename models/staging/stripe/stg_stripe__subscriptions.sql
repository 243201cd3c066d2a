{#- Subscription snapshots: one row per customer.subscription.* event, i.e. the
    subscription as Stripe saw it at that event's `created`. The newest state is
    chosen in the `subscription` mart, never by arrival order.
    Billing periods moved to items.data[].current_period_* in API 2025-03-31.basil;
    older payloads have them on the subscription, used as the fallback. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where payload -> 'data' -> 'object' ->> 'object' = 'subscription'
),

unpacked as (
    select
        stripe_event_id,
        payload ->> 'type' as stripe_event_type,
        {{ from_unix("payload ->> 'created'") }} as event_created_at,
        received_at,
        payload -> 'data' -> 'object' as subscription
    from source
),

items as (
    {#- Per snapshot: the first item's price, and MRR summed over every item. -#}
    select
        unpacked.stripe_event_id,
        (array_agg(coalesce(item -> 'price' ->> 'id', item -> 'plan' ->> 'id') order by ordinal))[1] as price_id,
        (
            array_agg(
                coalesce({{ stripe_ref("item -> 'price'", 'product') }}, {{ stripe_ref("item -> 'plan'", 'product') }}) order by ordinal
            )
        )[
            1
        ]
            as product_id,
        (
            array_agg(
                coalesce(item -> 'price' ->> 'nickname', item -> 'plan' ->> 'nickname', item -> 'price' ->> 'lookup_key') order by ordinal
            )
        )[1] as plan_name,
        (array_agg(coalesce(item -> 'price' -> 'recurring' ->> 'interval', item -> 'plan' ->> 'interval') order by ordinal))[1]
            as plan_interval,
        (array_agg(coalesce((item -> 'price' ->> 'unit_amount')::bigint, (item -> 'plan' ->> 'amount')::bigint) order by ordinal))[1]
            as unit_amount_cents,
        sum(coalesce((item ->> 'quantity')::int, 1)) as quantity,
        sum(
            {{ monthly_cents(
                "coalesce((item -> 'price' ->> 'unit_amount')::bigint, (item -> 'plan' ->> 'amount')::bigint, 0) * coalesce((item ->> 'quantity')::int, 1)",
                "coalesce(item -> 'price' -> 'recurring' ->> 'interval', item -> 'plan' ->> 'interval')",
                "coalesce(item -> 'price' -> 'recurring' ->> 'interval_count', item -> 'plan' ->> 'interval_count')"
            ) }}
        ) as list_mrr_cents,
        max({{ from_unix("item ->> 'current_period_start'") }}) as item_period_start_at,
        max({{ from_unix("item ->> 'current_period_end'") }}) as item_period_end_at
    from unpacked
    cross join
        lateral jsonb_array_elements(
            case when jsonb_typeof(unpacked.subscription -> 'items' -> 'data') = 'array' then unpacked.subscription -> 'items' -> 'data' else '[]'::jsonb end
        ) with ordinality as elements (item, ordinal)
    group by unpacked.stripe_event_id
),

final as (
    select
        unpacked.stripe_event_id,
        unpacked.stripe_event_type,
        unpacked.event_created_at,
        unpacked.received_at,
        unpacked.subscription ->> 'id' as subscription_id,
        {{ stripe_ref('subscription', 'customer') }} as customer_id,
        unpacked.subscription ->> 'status' as status,
        items.price_id,
        items.product_id,
        items.plan_name,
        items.plan_interval,
        items.unit_amount_cents,
        items.quantity,
        lower(unpacked.subscription ->> 'currency') as currency,
        coalesce(items.list_mrr_cents, 0) as list_mrr_cents,
        coalesce(items.item_period_start_at, {{ from_unix("unpacked.subscription ->> 'current_period_start'") }}) as current_period_start_at,
        coalesce(items.item_period_end_at, {{ from_unix("unpacked.subscription ->> 'current_period_end'") }}) as current_period_end_at,
        coalesce((unpacked.subscription ->> 'cancel_at_period_end')::boolean, false) as cancel_at_period_end,
        {{ from_unix("unpacked.subscription ->> 'canceled_at'") }} as canceled_at,
        {{ from_unix("unpacked.subscription ->> 'ended_at'") }} as ended_at,
        {{ from_unix("unpacked.subscription ->> 'trial_end'") }} as trial_end_at,
        {{ from_unix("unpacked.subscription ->> 'created'") }} as subscription_created_at,
        nullif(btrim(unpacked.subscription -> 'metadata' ->> 'person_id'), '') as metadata_person_id
    from unpacked
    left join items on unpacked.stripe_event_id = items.stripe_event_id
)

select * from final
