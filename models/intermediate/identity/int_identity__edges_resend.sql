{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Resend (signed webhooks, verified): the tags the system put on an email tie its person_id
    to the recipient; inbound replies and contact events are sightings of the sender / contact. -#}
with

resend as (
    {{ identity_edge_batch(ref('stg_resend__events'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('person_id', 'tag_person_id') }} as left_key,
        {{ identity_key('email', 'to_email') }} as right_key,
        'verified' as provenance,
        'resend_event' as raw_table,
        svix_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from resend
    where resend_object = 'email' and resend_event_type <> 'email.received'
    union all
    select
        {{ identity_key('email', "case when resend_event_type = 'email.received' then from_email else contact_email end") }} as left_key,
        null as right_key,
        'verified' as provenance,
        'resend_event' as raw_table,
        svix_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from resend
    where resend_event_type = 'email.received' or resend_object = 'contact'
),

{{ identity_edge_fold() }}

select * from final
