{{ config(materialized='table', indexes=[{'columns': ['node_id'], 'unique': true}]) }}
{#- The identity graph's components after provenance: the verified components
    (int_identity__verified_components, label propagation over verified edges, see
    macros/label_propagation.sql for method and cost), each anonymous group joined to the
    identified component that won its claim (int_identity__claims), unclaimed groups on their
    own. Refused client-asserted edges join nothing. component_id = the smallest node_id =
    the oldest identifier of the component. -#}
with

components as (
    select * from {{ ref('int_identity__verified_components') }}
),

groups as (
    select * from {{ ref('int_identity__anonymous_groups') }}
),

won as (
    select distinct
        group_id,
        winner_id
    from {{ ref('int_identity__claims') }}
),

{# An identified component and every group it won are one person, named by their oldest node. #}
owner_labels as (
    select
        winner_id,
        least(winner_id, min(group_id)) as component_id
    from won
    group by winner_id
),

final as (
    select
        components.node_id,
        case
            when components.is_identified then coalesce(own.component_id, components.verified_component_id)
            else coalesce(owner.component_id, groups.group_id, components.verified_component_id)
        end as component_id
    from components
    left join owner_labels as own on components.verified_component_id = own.winner_id
    left join groups on components.verified_component_id = groups.verified_component_id
    left join won on coalesce(groups.group_id, components.verified_component_id) = won.group_id and not components.is_identified
    left join owner_labels as owner on won.winner_id = owner.winner_id
)

select * from final
