{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Lead imports by an operator (verified): the email is a sighting. -#}
with

leads as (
    {{ identity_edge_batch(ref('stg_deals__leads'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('email', 'email') }} as left_key,
        {{ typed_null('text') }} as right_key,
        'verified' as provenance,
        'lead' as raw_table,
        raw_email as raw_key,
        imported_at as seen_at,
        arrived_at
    from leads
),

{{ identity_edge_fold() }}

select * from final
