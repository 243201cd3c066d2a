{{ config(materialized='table', indexes=[{'columns': ['node_id'], 'unique': true}]) }}
{#- The identity graph's components after provenance: the verified components
    (int_identity__verified_components, label propagation over verified edges, see
    macros/label_propagation.sql for method and cost), each anonymous group joined to the
    identified component that owns it (int_identity__anonymous_groups), unowned groups on
    their own. Refused client-asserted edges join nothing. component_id = the smallest
    node_id = the oldest identifier of the component. -#}
with

components as (
    select * from {{ ref('int_identity__verified_components') }}
),

groups as (
    select * from {{ ref('int_identity__anonymous_groups') }}
),

{# An identified component and every group it owns are one person, named by their oldest node. #}
owner_labels as (
    select
        owner_id,
        least(owner_id, min(group_id)) as component_id
    from groups
    where owner_id is not null
    group by owner_id
),

final as (
    select
        components.node_id,
        case
            when components.is_identified then coalesce(own.component_id, components.verified_component_id)
            else coalesce(owner.component_id, groups.group_id, components.verified_component_id)
        end as component_id
    from components
    left join owner_labels as own on components.verified_component_id = own.owner_id
    left join groups on components.verified_component_id = groups.verified_component_id and not components.is_identified
    left join owner_labels as owner on groups.owner_id = owner.owner_id
)

select * from final
