{#- Stripe events in the shape of `event`. The person is found through the
    customer (whose person comes from client_reference_id / metadata.person_id / email
    in the identity graph, so it carries to every later event of that customer),
    else through the checkout's client_reference_id or email. -#}
with

stripe as (
    select * from {{ ref('stg_stripe__events') }}
),

final as (
    select
        {{ event_id('stripe', 'stripe_event_id') }} as event_id,
        'stripe' as source,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        landing_id,
        received_at,
        coalesce(created_at, received_at) as occurred_at,
        stripe_event_type as source_event,
        {{ typed_null('text') }} as event_type,
        coalesce(
            {{ identity_key('stripe_customer', 'customer_id') }},
            {{ identity_key('person_id', 'coalesce(' ~ json_get_text('data_object', 'client_reference_id')
                ~ ', ' ~ json_get_text('data_object', ['metadata', 'person_id']) ~ ')') }},
            {{ identity_key('email', 'coalesce(' ~ json_get_text('data_object', ['customer_details', 'email'])
                ~ ', ' ~ json_get_text('data_object', 'customer_email') ~ ', ' ~ json_get_text('data_object', 'email') ~ ')') }}
        ) as identity_key,
        nullif({{ json_get_text('data_object', ['metadata', 'campaign_id']) }}, '') as campaign_id,
        nullif({{ json_get_text('data_object', ['metadata', 'funnel']) }}, '') as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['object_type', 'object_type'],
            ['object_id', 'object_id'],
            ['customer_id', 'customer_id'],
            ['status', json_get_text('data_object', 'status')],
            ['mode', json_get_text('data_object', 'mode')],
            ['amount_cents', 'coalesce(' ~ json_get('data_object', 'amount_total') ~ ', ' ~ json_get('data_object', 'amount_paid') ~ ', ' ~ json_get('data_object', 'amount_due') ~ ')', 'json'],
            ['currency', json_get_text('data_object', 'currency')],
            ['gdp_event_id', "nullif(btrim(" ~ json_get_text('data_object', ['metadata', 'gdp_event_id']) ~ "), '')"],
            ['subscription_id', "case when object_type = 'subscription' then object_id else " ~ stripe_ref('data_object', 'subscription') ~ " end"],
            ['previous_attributes', 'previous_attributes', 'json'],
            ['livemode', 'livemode'],
        ]) }} as properties,
        case when object_type = 'customer' then 'identity only: customer record (feeds identity_link)' end as excluded_reason
    from stripe
)

select * from final
