{#- Checkout sessions: one row per checkout.session.* event. -#}
with

source as (
    select * from {{ source('stripe', 'stripe_event') }}
    where {{ readable_row('stripe_event') }}
        and {{ json_get_text('payload', ['data', 'object', 'object']) }} = 'checkout.session'
),

final as (
    select
        stripe_event_id,
        {{ json_get_text('payload', 'type') }} as stripe_event_type,
        {{ from_unix(json_get_text('payload', 'created')) }} as event_created_at,
        received_at,
        {{ json_get_text('payload', ['data', 'object', 'id']) }} as checkout_session_id,
        {{ stripe_ref('payload', ['data', 'object', 'customer']) }} as customer_id,
        {{ stripe_ref('payload', ['data', 'object', 'subscription']) }} as subscription_id,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'client_reference_id']) }}), '') as client_reference_id,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'metadata', 'person_id']) }}), '') as metadata_person_id,
        nullif(btrim({{ json_get_text('payload', ['data', 'object', 'metadata', 'campaign_id']) }}), '') as campaign_id,
        {%- set details_email = json_get_text('payload', ['data', 'object', 'customer_details', 'email']) %}
        {%- set customer_email = json_get_text('payload', ['data', 'object', 'customer_email']) %}
        {{ normalize_identifier('email', 'coalesce(' ~ details_email ~ ', ' ~ customer_email ~ ')') }} as email,
        {{ json_get_text('payload', ['data', 'object', 'mode']) }} as checkout_mode,
        {{ json_get_text('payload', ['data', 'object', 'status']) }} as checkout_status,
        {{ json_get_text('payload', ['data', 'object', 'payment_status']) }} as payment_status,
        {{ try_cast_as(json_get_text('payload', ['data', 'object', 'amount_total']), 'bigint') }} as amount_total_cents,
        lower({{ json_get_text('payload', ['data', 'object', 'currency']) }}) as currency,
        {{ from_unix(json_get_text('payload', ['data', 'object', 'created'])) }} as session_created_at
    from source
)

select * from final
