{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Calendly invitee events (signed webhooks, verified): invitee email ↔ invitee. -#}
with

calendly as (
    {{ identity_edge_batch(ref('stg_calendly__invitee_events'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('email', 'invitee_email') }} as left_key,
        {{ identity_key('calendly_invitee', 'invitee_uri') }} as right_key,
        'verified' as provenance,
        'calendly_event' as raw_table,
        delivery_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from calendly
),

{{ identity_edge_fold() }}

select * from final
