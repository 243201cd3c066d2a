{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('identity_key') }}"],
    indexes=[{'columns': ['identity_key'], 'unique': true}, {'columns': ['person_id']}, {'columns': ['written_at']}],
) }}
{#- Every identifier with its canonical person_id. The person is named by the
    component's oldest identifier (its anchor): a person id if the anchor is one,
    otherwise an id derived from the anchor's key, so a rebuild yields the same ids
    and a merge keeps the older person's id. Components above the size cap (the rule of
    int_identity__quarantine, macros/identity_graph.sql identity_is_oversized) are split back
    into one person per identifier. Incremental: the identifiers of the region. -#}
with

{%- if is_incremental() %}

    region as (
        {{ identity_region() }}
    ),
{%- endif %}

nodes as (
    select * from {{ ref('int_identity__nodes') }}
    {%- if is_incremental() %}
        where identity_key in (select region.identity_key from region)
    {%- endif %}
),

components as (
    select
        node_id,
        component_id,
        count(*) over (partition by component_id) as unsplit_size
    from {{ ref('int_identity__components') }}
    {%- if is_incremental() %}
        where node_id in (select region.node_id from region)
    {%- endif %}
),

assigned as (
    select
        nodes.*,
        {{ identity_is_oversized('components.unsplit_size') }} as is_quarantined,
        case when {{ identity_is_oversized('components.unsplit_size') }} then nodes.node_id else components.component_id end as component_id
    from nodes
    inner join components on nodes.node_id = components.node_id
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
        assigned.first_raw_key,
        {{ identity_written_at() }} as written_at
    from assigned
    inner join anchors on assigned.component_id = anchors.component_id
)

select * from final
