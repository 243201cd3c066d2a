{#- Invoices: one row per invoice.* event. Since API 2025-03-31.basil the subscription
    is under parent.subscription_details; older versions have it top-level. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where payload -> 'data' -> 'object' ->> 'object' = 'invoice'
),

final as (
    select
        stripe_event_id,
        payload ->> 'type' as stripe_event_type,
        {{ from_unix("payload ->> 'created'") }} as event_created_at,
        received_at,
        payload -> 'data' -> 'object' ->> 'id' as invoice_id,
        {{ stripe_ref("payload -> 'data' -> 'object'", 'customer') }} as customer_id,
        coalesce(
            {{ stripe_ref("payload -> 'data' -> 'object'", 'subscription') }},
            payload -> 'data' -> 'object' -> 'parent' -> 'subscription_details' ->> 'subscription'
        ) as subscription_id,
        {{ normalize_identifier('email', "payload -> 'data' -> 'object' ->> 'customer_email'") }} as customer_email,
        payload -> 'data' -> 'object' ->> 'status' as invoice_status,
        payload -> 'data' -> 'object' ->> 'billing_reason' as billing_reason,
        (payload -> 'data' -> 'object' ->> 'amount_due')::bigint as amount_due_cents,
        (payload -> 'data' -> 'object' ->> 'amount_paid')::bigint as amount_paid_cents,
        lower(payload -> 'data' -> 'object' ->> 'currency') as currency,
        (payload -> 'data' -> 'object' ->> 'attempt_count')::int as attempt_count,
        {{ from_unix("payload -> 'data' -> 'object' ->> 'created'") }} as invoice_created_at
    from source
)

select * from final
