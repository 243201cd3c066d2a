{{ config(materialized='table', indexes=[{'columns': ['node_id'], 'unique': true}]) }}
{#- Connected components of the identity graph (see macros/label_propagation.sql for
    the method and its cost). component_id = the smallest node_id = the oldest
    identifier of the component. -#}
with

nodes as (
    select node_id from {{ ref('int_identity__nodes') }}
),

identity_edges as (
    select * from {{ ref('int_identity__edges') }}
),

node_keys as (
    select
        node_id,
        identity_key
    from {{ ref('int_identity__nodes') }}
),

pairs as (
    select distinct
        left_nodes.node_id as a,
        right_nodes.node_id as b
    from identity_edges
    inner join node_keys as left_nodes on identity_edges.left_key = left_nodes.identity_key
    inner join node_keys as right_nodes on identity_edges.right_key = right_nodes.identity_key
    where identity_edges.right_key is not null
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

{# Only identifiers with at least one edge propagate; a lone identifier is its own component. #}
linked_nodes as (
    select distinct src_node_id as node_id from directed
),

{{ label_propagation('linked_nodes', 'directed', var('identity_label_passes')) }},

final as (
    select
        nodes.node_id,
        coalesce(labels.label, nodes.node_id) as component_id
    from nodes
    left join {{ label_propagation_result(var('identity_label_passes')) }} as labels on nodes.node_id = labels.node_id
)

select * from final
