{#- Label propagation ran enough passes (var identity_label_passes): no accepted edge (every
    verified one, and the client-asserted ones int_identity__client_edges accepted) joins two
    different components. A failure names the edges; raise the var.
    The CTEs are `not materialized`: each is read twice, and a materialized CTE hides
    the tables' statistics and indexes from the planner (at 100k persons that turned a
    one-second check into a 13-minute one). -#}
{{ config(meta={'dagster': {'ref': {'name': 'int_identity__components'}}}) }}
with

edges as {{ cte_not_materialized() }} (
    select
        left_key,
        right_key
    from {{ ref('int_identity__edges') }}
    where right_key is not null and provenance = 'verified'
    union all
    select
        left_key,
        right_key
    from {{ ref('int_identity__client_edges') }}
    where is_accepted
),

nodes as {{ cte_not_materialized() }} (
    select
        identity_key,
        node_id
    from {{ ref('int_identity__nodes') }}
),

components as {{ cte_not_materialized() }} (
    select * from {{ ref('int_identity__components') }}
)

select
    edges.left_key,
    edges.right_key,
    left_component.component_id as left_component,
    right_component.component_id as right_component
from edges
inner join nodes as left_node on edges.left_key = left_node.identity_key
inner join nodes as right_node on edges.right_key = right_node.identity_key
inner join components as left_component on left_node.node_id = left_component.node_id
inner join components as right_component on right_node.node_id = right_component.node_id
where left_component.component_id <> right_component.component_id
