{#- Subscription snapshots: one row per customer.subscription.* event, i.e. the
    subscription as Stripe saw it at that event's `created`. The newest state is
    chosen in the `subscription` mart, never by arrival order.
    Billing periods moved to items.data[].current_period_* in API 2025-03-31.basil;
    older payloads have them on the subscription, used as the fallback. -#}
{%- set unit_amount = 'coalesce(' ~ try_cast_as(json_get_text('item', ['price', 'unit_amount']), 'bigint') ~ ', '
    ~ try_cast_as(json_get_text('item', ['plan', 'amount']), 'bigint') ~ ')' -%}
{%- set quantity = 'coalesce(' ~ try_cast_as(json_get_text('item', 'quantity'), 'integer') ~ ', 1)' -%}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where {{ readable_row('stripe_event') }}
        and {{ json_get_text('payload', ['data', 'object', 'object']) }} = 'subscription'
),

unpacked as (
    select
        stripe_event_id,
        landing_id,
        {{ json_get_text('payload', 'type') }} as stripe_event_type,
        {{ from_unix(json_get_text('payload', 'created')) }} as event_created_at,
        received_at,
        {{ json_get('payload', ['data', 'object']) }} as subscription
    from source
),

final as (
    select
        unpacked.stripe_event_id,
        unpacked.stripe_event_type,
        unpacked.event_created_at,
        unpacked.landing_id,
        unpacked.received_at,
        {{ json_get_text('unpacked.subscription', 'id') }} as subscription_id,
        {{ stripe_ref('unpacked.subscription', ['customer']) }} as customer_id,
        {{ json_get_text('unpacked.subscription', 'status') }} as status,
        items.price_id,
        items.product_id,
        items.plan_name,
        items.plan_interval,
        items.unit_amount_cents,
        items.quantity,
        lower({{ json_get_text('unpacked.subscription', 'currency') }}) as currency,
        coalesce(items.list_mrr_cents, 0) as list_mrr_cents,
        coalesce(items.item_period_start_at, {{ from_unix(json_get_text('unpacked.subscription', 'current_period_start')) }}) as current_period_start_at,
        coalesce(items.item_period_end_at, {{ from_unix(json_get_text('unpacked.subscription', 'current_period_end')) }}) as current_period_end_at,
        coalesce({{ try_cast_as(json_get_text('unpacked.subscription', 'cancel_at_period_end'), 'boolean') }}, false) as cancel_at_period_end,
        {{ from_unix(json_get_text('unpacked.subscription', 'canceled_at')) }} as canceled_at,
        {{ from_unix(json_get_text('unpacked.subscription', 'ended_at')) }} as ended_at,
        {{ from_unix(json_get_text('unpacked.subscription', 'trial_end')) }} as trial_end_at,
        {{ from_unix(json_get_text('unpacked.subscription', 'created')) }} as subscription_created_at,
        nullif(btrim({{ json_get_text('unpacked.subscription', ['metadata', 'person_id']) }}), '') as metadata_person_id
    from unpacked
    left join lateral (
        {#- Per snapshot, from its own items (a lateral aggregate, so the cost stays one pass over
        the snapshots): the first item's price, and MRR summed over every item. -#}
        select
            {{ first_by('coalesce(' ~ json_get_text('item', ['price', 'id']) ~ ', ' ~ json_get_text('item', ['plan', 'id']) ~ ')', 'ordinal') }} as price_id,
            {{ first_by('coalesce(' ~ stripe_ref('item', ['price', 'product']) ~ ', ' ~ stripe_ref('item', ['plan', 'product']) ~ ')', 'ordinal') }} as product_id,
            {{ first_by('coalesce(' ~ json_get_text('item', ['price', 'nickname']) ~ ', ' ~ json_get_text('item', ['plan', 'nickname']) ~ ', '
                ~ json_get_text('item', ['price', 'lookup_key']) ~ ')', 'ordinal') }} as plan_name,
            {{ first_by('coalesce(' ~ json_get_text('item', ['price', 'recurring', 'interval']) ~ ', ' ~ json_get_text('item', ['plan', 'interval']) ~ ')', 'ordinal') }}
                as plan_interval,
            {{ first_by(unit_amount, 'ordinal') }} as unit_amount_cents,
            sum({{ quantity }}) as quantity,
            sum(
                {{ monthly_cents(
                    'coalesce(' ~ unit_amount ~ ', 0) * ' ~ quantity,
                    'coalesce(' ~ json_get_text('item', ['price', 'recurring', 'interval']) ~ ', ' ~ json_get_text('item', ['plan', 'interval']) ~ ')',
                    'coalesce(' ~ json_get_text('item', ['price', 'recurring', 'interval_count']) ~ ', ' ~ json_get_text('item', ['plan', 'interval_count']) ~ ')'
                ) }}
            ) as list_mrr_cents,
            max({{ from_unix(json_get_text('item', 'current_period_start')) }}) as item_period_start_at,
            max({{ from_unix(json_get_text('item', 'current_period_end')) }}) as item_period_end_at
        from {{ json_array_elements_ordered(json_get('unpacked.subscription', ['items', 'data'])) }} as elements (item, ordinal)
    ) as items on true
)

select * from final
