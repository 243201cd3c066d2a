{#- Every identifier pair some source row proves belongs to one person, plus lone
    sightings (right_key null) so an identifier seen alone still becomes a person.
    Keys are `type:value` built by the one normalization macro; placeholders come out
    null and are dropped here, so they never link anyone. -#}
with

resend as (
    select * from {{ ref('stg_resend__events') }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

stripe_checkout_sessions as (
    select * from {{ ref('stg_stripe__checkout_sessions') }}
),

stripe_subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

stripe_invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

edges as (
    {# Resend: the tags the system put on the email tie person_id to the recipient. #}
    select
        {{ identity_key('person_id', 'tag_person_id') }} as left_key,
        {{ identity_key('email', 'to_email') }} as right_key,
        'resend_event' as raw_table, svix_id as raw_key, occurred_at as seen_at
    from resend
    where resend_object = 'email' and resend_event_type <> 'email.received'
    union all
    {# Inbound replies and contact events: the sender / contact is a sighting. #}
    select
        {{ identity_key('email', "case when resend_event_type = 'email.received' then from_email else contact_email end") }},
        null, 'resend_event', svix_id, occurred_at
    from resend
    where resend_event_type = 'email.received' or resend_object = 'contact'

    union all
    select {{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'email') }},
        'stripe_event', stripe_event_id, event_created_at
    from stripe_customers
    union all
    select {{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('person_id', 'metadata_person_id') }},
        'stripe_event', stripe_event_id, event_created_at
    from stripe_customers
    where metadata_person_id is not null
    union all
    {# Checkout: client_reference_id (the person id the app passed) ↔ customer and email. #}
    select
        coalesce({{ identity_key('person_id', 'coalesce(client_reference_id, metadata_person_id)') }}, {{ identity_key('email', 'email') }}),
        coalesce({{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'email') }}),
        'stripe_event', stripe_event_id, event_created_at
    from stripe_checkout_sessions
    union all
    select {{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'email') }},
        'stripe_event', stripe_event_id, event_created_at
    from stripe_checkout_sessions
    where customer_id is not null and email is not null
    union all
    select {{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('person_id', 'metadata_person_id') }},
        'stripe_event', stripe_event_id, event_created_at
    from stripe_subscriptions
    union all
    select {{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'customer_email') }},
        'stripe_event', stripe_event_id, event_created_at
    from stripe_invoices
),

final as (
    select
        coalesce(left_key, right_key) as left_key,
        case when left_key is not null and right_key <> left_key then right_key end as right_key,
        raw_table,
        raw_key,
        seen_at
    from edges
    where coalesce(left_key, right_key) is not null
)

select * from final
