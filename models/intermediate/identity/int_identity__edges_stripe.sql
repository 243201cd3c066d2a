{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Stripe (signed webhooks, verified): customer ↔ email and person id; checkout's
    client_reference_id (the person id the app passed) ↔ customer and email. -#}
with

stripe_customers as (
    {{ identity_edge_batch(ref('stg_stripe__customers'), 'received_at') }}
),

stripe_checkout_sessions as (
    {{ identity_edge_batch(ref('stg_stripe__checkout_sessions'), 'received_at') }}
),

stripe_subscriptions as (
    {{ identity_edge_batch(ref('stg_stripe__subscriptions'), 'received_at') }}
),

stripe_invoices as (
    {{ identity_edge_batch(ref('stg_stripe__invoices'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_customers
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_customers
    where metadata_person_id is not null
    union all
    select
        coalesce(
            {{ identity_key('person_id', 'coalesce(client_reference_id, metadata_person_id)') }}, {{ identity_key('email', 'email') }}
        ) as left_key,
        coalesce({{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'email') }}) as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_checkout_sessions
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_checkout_sessions
    where customer_id is not null and email is not null
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_subscriptions
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'customer_email') }} as right_key,
        'verified' as provenance,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at,
        arrived_at
    from stripe_invoices
),

{{ identity_edge_fold() }}

select * from final
