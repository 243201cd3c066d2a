{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Clicks on tracked links (verified: the token's person_id is signed by us) ↔ the click id,
    and through it the browser that landed. -#}
with

clicks as (
    {{ identity_edge_batch(ref('stg_tracking__clicks'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('click_id', 'click_id') }} as right_key,
        'verified' as provenance,
        'click' as raw_table,
        click_id as raw_key,
        clicked_at as seen_at,
        arrived_at
    from clicks
    where person_id is not null
),

{{ identity_edge_fold() }}

select * from final
