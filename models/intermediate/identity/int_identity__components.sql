{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('node_id', by_node_id=true) }}"],
    indexes=[{'columns': ['node_id'], 'unique': true}, {'columns': ['component_id']}, {'columns': ['written_at']}],
) }}
{#- The identity graph's components after provenance: the verified components
    (int_identity__verified_components, label propagation over verified edges, see
    macros/label_propagation.sql for method and cost), each anonymous group joined to the
    identified component that owns it (int_identity__anonymous_groups), unowned groups on
    their own. Refused client-asserted edges join nothing. component_id = the node_id of the
    component's oldest identifier (identity_age_order), which names the person.
    Incremental: the components of the region (macros/identity_graph.sql). -#}
with

{%- if is_incremental() %}

    region as (
        {{ identity_region() }}
    ),
{%- endif %}

components as (
    select * from {{ ref('int_identity__verified_components') }}
    {%- if is_incremental() %}
        where identity_key in (select region.identity_key from region)
    {%- endif %}
),

groups as (
    select * from {{ ref('int_identity__anonymous_groups') }}
    {%- if is_incremental() %}
        where verified_component_id in (select region.node_id from region)
    {%- endif %}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

{# Verified components that join others: each group member under its owner (or its group when
   unowned), and each owner under itself. Every other verified component is a person alone. #}
joined as (
    select
        coalesce(owner_id, group_id) as partition_id,
        verified_component_id
    from groups
    union
    select
        owner_id as partition_id,
        owner_id as verified_component_id
    from groups
    where owner_id is not null
),

{# A verified component's id is its oldest node, so the oldest of those is the person's anchor. #}
anchors as (
    select
        joined.partition_id,
        {{ first_by('nodes.node_id', identity_age_order('nodes')) }} as component_id
    from joined
    inner join nodes on joined.verified_component_id = nodes.node_id
    group by joined.partition_id
),

final as (
    select
        components.node_id,
        coalesce(anchors.component_id, components.verified_component_id) as component_id,
        {{ identity_written_at() }} as written_at
    from components
    left join groups on components.verified_component_id = groups.verified_component_id and not components.is_identified
    left join anchors
        on anchors.partition_id = case
                when components.is_identified then components.verified_component_id
                else coalesce(groups.owner_id, groups.group_id)
            end
)

select * from final
