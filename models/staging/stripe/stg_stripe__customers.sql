{#- Customer snapshots: one row per customer.* event (the customer as of that event). -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where {{ readable_row('stripe_event') }}
        and {{ json_get_text('payload', ['data', 'object', 'object']) }} = 'customer'
),

final as (
    select
        stripe_event_id,
        {{ json_get_text('payload', 'type') }} as stripe_event_type,
        {{ from_unix(json_get_text('payload', 'created')) }} as event_created_at,
        received_at,
        {{ json_get_text('payload', ['data', 'object', 'id']) }} as customer_id,
        {{ normalize_identifier('email', json_get_text('payload', ['data', 'object', 'email'])) }} as email,
        {{ json_get_text('payload', ['data', 'object', 'name']) }} as customer_name,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'phone']) }}), '') as phone,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'address', 'country']) }}), '') as address_country,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'address', 'city']) }}), '') as address_city,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'address', 'state']) }}), '') as address_state,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'address', 'postal_code']) }}), '') as address_postal_code,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'metadata', 'person_id']) }}), '') as metadata_person_id,
        {{ from_unix(json_get_text('payload', ['data', 'object', 'created'])) }} as customer_created_at,
        (
            {{ json_get_text('payload', 'type') }} = 'customer.deleted'
            or coalesce({{ try_cast_as(json_get_text('payload', ['data', 'object', 'deleted']), 'boolean') }}, false)
        ) as is_deleted
    from source
)

select * from final
