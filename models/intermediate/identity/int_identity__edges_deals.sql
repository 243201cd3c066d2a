{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Deal moves (operator tool or CRM with GDP_API_TOKEN, verified): the email is a sighting. -#}
with

deals as (
    {{ identity_edge_batch(ref('stg_deals__events'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('email', 'email') }} as left_key,
        {{ typed_null('text') }} as right_key,
        'verified' as provenance,
        'deal_event' as raw_table,
        deal_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from deals
),

{{ identity_edge_fold() }}

select * from final
