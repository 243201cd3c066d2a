{#- Customer snapshots: one row per customer.* event (the customer as of that event). -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where payload -> 'data' -> 'object' ->> 'object' = 'customer'
),

final as (
    select
        stripe_event_id,
        payload ->> 'type' as stripe_event_type,
        {{ from_unix("payload ->> 'created'") }} as event_created_at,
        received_at,
        payload -> 'data' -> 'object' ->> 'id' as customer_id,
        {{ normalize_identifier('email', "payload -> 'data' -> 'object' ->> 'email'") }} as email,
        payload -> 'data' -> 'object' ->> 'name' as customer_name,
        nullif(btrim(payload -> 'data' -> 'object' ->> 'phone'), '') as phone,
        nullif(btrim(payload -> 'data' -> 'object' -> 'address' ->> 'country'), '') as address_country,
        nullif(btrim(payload -> 'data' -> 'object' -> 'address' ->> 'city'), '') as address_city,
        nullif(btrim(payload -> 'data' -> 'object' -> 'address' ->> 'state'), '') as address_state,
        nullif(btrim(payload -> 'data' -> 'object' -> 'address' ->> 'postal_code'), '') as address_postal_code,
        nullif(btrim(payload -> 'data' -> 'object' -> 'metadata' ->> 'person_id'), '') as metadata_person_id,
        {{ from_unix("payload -> 'data' -> 'object' ->> 'created'") }} as customer_created_at,
        (
            payload ->> 'type' = 'customer.deleted'
            or coalesce((payload -> 'data' -> 'object' ->> 'deleted')::boolean, false)
        ) as is_deleted
    from source
)

select * from final
