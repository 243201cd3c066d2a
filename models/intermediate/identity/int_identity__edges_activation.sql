{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Emails activation itself sent (verified): the person it addressed and the address. -#}
with

email_sends as (
    {{ identity_edge_batch(ref('stg_activation__email_sends'), 'sent_at') }}
),

edges as (
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'verified' as provenance,
        'activation.email_send' as raw_table,
        {{ cast_as('email_send_id', 'text') }} as raw_key,
        sent_at as seen_at,
        arrived_at
    from email_sends
),

{{ identity_edge_fold() }}

select * from final
