{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- The Meta CAPI relay (client-asserted: fbp / fbc come from the browser) ↔ the cookie's person. -#}
with

capi as (
    {{ identity_edge_batch(ref('stg_meta__capi_events'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('fbp', 'fbp') }} as right_key,
        'client_asserted' as provenance,
        'meta_capi_event' as raw_table,
        capi_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from capi
    union all
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('fbc', 'fbc') }} as right_key,
        'client_asserted' as provenance,
        'meta_capi_event' as raw_table,
        capi_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from capi
    where fbc is not null
),

{{ identity_edge_fold() }}

select * from final
