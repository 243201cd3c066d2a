{{ config(materialized='table', indexes=[{'columns': ['identity_key'], 'unique': true}, {'columns': ['person_id']}]) }}
{#- Every identifier with its canonical person_id. The person is named by the
    component's oldest identifier (its anchor): a person id if the anchor is one,
    otherwise an id derived from the anchor's key, so a rebuild yields the same ids
    and a merge keeps the older person's id. Quarantined components are split back
    into one person per identifier. -#}
with

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

components as (
    select * from {{ ref('int_identity__components') }}
),

quarantine as (
    select * from {{ ref('int_identity__quarantine') }}
),

assigned as (
    select
        nodes.*,
        quarantine.component_id is not null as is_quarantined,
        case when quarantine.component_id is not null then nodes.node_id else components.component_id end as component_id
    from nodes
    inner join components on nodes.node_id = components.node_id
    left join quarantine on components.component_id = quarantine.component_id
),

anchors as (
    select
        node_id as component_id,
        case
            when identifier_type = 'person_id' then identifier_value
            else {{ derived_person_id('identity_key') }}
        end as person_id
    from nodes
),

final as (
    select
        assigned.identity_key,
        assigned.identifier_type,
        assigned.identifier_value,
        anchors.person_id,
        assigned.component_id,
        count(*) over (partition by assigned.component_id) as component_size,
        assigned.is_quarantined,
        assigned.is_verified,
        assigned.first_seen_at,
        assigned.last_seen_at,
        assigned.first_raw_table,
        assigned.first_raw_key
    from assigned
    inner join anchors on assigned.component_id = anchors.component_id
)

select * from final
