{#- One row per Stripe event: the envelope plus the object it carries. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where {{ readable_row('stripe_event') }}
),

final as (
    select
        stripe_event_id,
        landing_id,
        received_at,
        coalesce({{ json_get_text('payload', 'type') }}, event_type) as stripe_event_type,
        livemode,
        {{ json_get_text('payload', 'api_version') }} as api_version,
        {{ from_unix(json_get_text('payload', 'created')) }} as created_at,
        {{ json_get_text('payload', ['data', 'object', 'object']) }} as object_type,
        {{ json_get_text('payload', ['data', 'object', 'id']) }} as object_id,
        case
            when {{ json_get_text('payload', ['data', 'object', 'object']) }} = 'customer'
                then {{ json_get_text('payload', ['data', 'object', 'id']) }}
            else {{ stripe_ref('payload', ['data', 'object', 'customer']) }}
        end as customer_id,
        {{ json_get('payload', ['data', 'object']) }} as data_object,
        {{ json_get('payload', ['data', 'previous_attributes']) }} as previous_attributes,
        payload
    from source
)

select * from final
