{#- One row per Stripe event: the envelope plus the object it carries. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
),

final as (
    select
        stripe_event_id,
        landing_id,
        received_at,
        coalesce(payload ->> 'type', event_type) as stripe_event_type,
        livemode,
        payload ->> 'api_version' as api_version,
        {{ from_unix("payload ->> 'created'") }} as created_at,
        payload -> 'data' -> 'object' ->> 'object' as object_type,
        payload -> 'data' -> 'object' ->> 'id' as object_id,
        case
            when payload -> 'data' -> 'object' ->> 'object' = 'customer'
                then payload -> 'data' -> 'object' ->> 'id'
            else {{ stripe_ref("payload -> 'data' -> 'object'", 'customer') }}
        end as customer_id,
        payload -> 'data' -> 'object' as data_object,
        payload -> 'data' -> 'previous_attributes' as previous_attributes,
        payload
    from source
)

select * from final
