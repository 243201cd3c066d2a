{#- Checkout sessions: one row per checkout.session.* event. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where payload -> 'data' -> 'object' ->> 'object' = 'checkout.session'
),

final as (
    select
        stripe_event_id,
        payload ->> 'type' as stripe_event_type,
        {{ from_unix("payload ->> 'created'") }} as event_created_at,
        received_at,
        payload -> 'data' -> 'object' ->> 'id' as checkout_session_id,
        {{ stripe_ref("payload -> 'data' -> 'object'", 'customer') }} as customer_id,
        {{ stripe_ref("payload -> 'data' -> 'object'", 'subscription') }} as subscription_id,
        nullif(btrim(payload -> 'data' -> 'object' ->> 'client_reference_id'), '') as client_reference_id,
        nullif(btrim(payload -> 'data' -> 'object' -> 'metadata' ->> 'person_id'), '') as metadata_person_id,
        nullif(btrim(payload -> 'data' -> 'object' -> 'metadata' ->> 'campaign_id'), '') as campaign_id,
        {{ normalize_identifier('email', "coalesce(payload -> 'data' -> 'object' -> 'customer_details' ->> 'email', payload -> 'data' -> 'object' ->> 'customer_email')") }}
            as email,
        payload -> 'data' -> 'object' ->> 'mode' as checkout_mode,
        payload -> 'data' -> 'object' ->> 'status' as checkout_status,
        payload -> 'data' -> 'object' ->> 'payment_status' as payment_status,
        (payload -> 'data' -> 'object' ->> 'amount_total')::bigint as amount_total_cents,
        lower(payload -> 'data' -> 'object' ->> 'currency') as currency,
        {{ from_unix("payload -> 'data' -> 'object' ->> 'created'") }} as session_created_at
    from source
)

select * from final
