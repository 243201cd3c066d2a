{#- Invoices: one row per invoice.* event. Since API 2025-03-31.basil the subscription
    is under parent.subscription_details; older versions have it top-level. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where {{ readable_row('stripe_event') }}
        and {{ json_get_text('payload', ['data', 'object', 'object']) }} = 'invoice'
),

final as (
    select
        stripe_event_id,
        {{ json_get_text('payload', 'type') }} as stripe_event_type,
        {{ from_unix(json_get_text('payload', 'created')) }} as event_created_at,
        received_at,
        {{ json_get_text('payload', ['data', 'object', 'id']) }} as invoice_id,
        {{ stripe_ref('payload', ['data', 'object', 'customer']) }} as customer_id,
        coalesce(
            {{ stripe_ref('payload', ['data', 'object', 'subscription']) }},
            {{ json_get_text('payload', ['data', 'object', 'parent', 'subscription_details', 'subscription']) }}
        ) as subscription_id,
        {{ normalize_identifier('email', json_get_text('payload', ['data', 'object', 'customer_email'])) }} as customer_email,
        {{ json_get_text('payload', ['data', 'object', 'status']) }} as invoice_status,
        {{ json_get_text('payload', ['data', 'object', 'billing_reason']) }} as billing_reason,
        {{ try_cast_as(json_get_text('payload', ['data', 'object', 'amount_due']), 'bigint') }} as amount_due_cents,
        {{ try_cast_as(json_get_text('payload', ['data', 'object', 'amount_paid']), 'bigint') }} as amount_paid_cents,
        lower({{ json_get_text('payload', ['data', 'object', 'currency']) }}) as currency,
        {{ try_cast_as(json_get_text('payload', ['data', 'object', 'attempt_count']), 'integer') }} as attempt_count,
        {{ from_unix(json_get_text('payload', ['data', 'object', 'created'])) }} as invoice_created_at
    from source
)

select * from final
