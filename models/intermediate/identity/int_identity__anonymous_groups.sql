{{ config(materialized='table', indexes=[{'columns': ['verified_component_id'], 'unique': true}]) }}
{#- Anonymous verified components (no identifying identifier) tied together by client-asserted
    edges, e.g. a browser aliased to another: one group goes to at most one identified person
    (int_identity__client_edges). group_id = the group's smallest component id. -#}
with

edges as (
    select * from {{ ref('int_identity__edges') }}
    where provenance = 'client_asserted' and right_key is not null
),

components as (
    select * from {{ ref('int_identity__verified_components') }}
),

pairs as (
    select distinct
        left_side.verified_component_id as a,
        right_side.verified_component_id as b
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    where not left_side.is_identified and not right_side.is_identified
        and left_side.verified_component_id <> right_side.verified_component_id
),

directed as (
    select
        a as src_node_id,
        b as dst_node_id
    from pairs
    union
    select
        b,
        a
    from pairs
),

linked_nodes as (
    select distinct src_node_id as node_id from directed
),

{{ label_propagation('linked_nodes', 'directed', var('identity_label_passes')) }},

final as (
    select
        node_id as verified_component_id,
        label as group_id
    from {{ label_propagation_result(var('identity_label_passes')) }}
)

select * from final
