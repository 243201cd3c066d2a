-- depends_on: {{ ref('int_identity__nodes') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('verified_component_id', by_node_id=true) }}"],
    indexes=[{'columns': ['verified_component_id'], 'unique': true}, {'columns': ['written_at']}],
) }}
{#- Anonymous verified components (no identifying identifier) tied together by client-asserted
    edges, e.g. a browser aliased to another, and the one identified person each group goes to.
    An edge between two anonymous components that two different persons claimed
    (int_identity__claims) ties nothing. A group's owner: its standing claim, else its first
    claim by time (int_identity__client_edges refuses every other claim). group_id = the
    group's smallest component id. Incremental: the groups of the region (macros/identity_graph.sql);
    on Spark a table rebuilt whole, the propagation materialized from `inputs` (macros/label_propagation.sql). -#}
{#- sqlfluff reads the set blocks' SQL as if nested: their indentation is the model's own. -#}
-- noqa: disable=LT02
{%- set inputs -%}
with

{%- if is_incremental() %}

    region as (
        {{ identity_region() }}
    ),
{%- endif %}

edges as (
    select * from {{ ref('int_identity__edges') }}
    where provenance = 'client_asserted' and right_key is not null
        {%- if is_incremental() %}
            and left_key in (select region.identity_key from region)
        {%- endif %}
),

components as (
    select * from {{ ref('int_identity__verified_components') }}
    {%- if is_incremental() %}
        where identity_key in (select region.identity_key from region)
    {%- endif %}
),

claims as (
    select * from {{ ref('int_identity__claims') }}
    {%- if is_incremental() %}
        where claimed_key in (select region.identity_key from region)
    {%- endif %}
),

direct_owners as (
    select distinct
        claimed_component_id,
        direct_owner_id
    from claims
),

pairs as (
    select distinct
        left_side.verified_component_id as a,
        right_side.verified_component_id as b
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    left join direct_owners as left_owner on left_side.verified_component_id = left_owner.claimed_component_id
    left join direct_owners as right_owner on right_side.verified_component_id = right_owner.claimed_component_id
    where not left_side.is_identified and not right_side.is_identified
        and left_side.verified_component_id <> right_side.verified_component_id
        and (
            left_owner.direct_owner_id is null or right_owner.direct_owner_id is null
            or left_owner.direct_owner_id = right_owner.direct_owner_id
        )
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
)
{%- endset %}
{{ inputs }},

{{ label_propagation('linked_nodes', 'directed', var('identity_label_passes'), inputs=inputs) }},
-- noqa: enable=LT02

members as (
    select
        node_id as verified_component_id,
        label as group_id
    from {{ label_propagation_result(var('identity_label_passes')) }}
    union all
    select
        claimed_component_id as verified_component_id,
        claimed_component_id as group_id
    from direct_owners
    where claimed_component_id not in (select linked_nodes.node_id from linked_nodes)
),

owner_candidates as (
    select
        members.group_id,
        claims.claimant_id as owner_id,
        claims.claimed_at as owner_claimed_at,
        claims.is_standing as owner_is_standing
    from members
    inner join claims on members.verified_component_id = claims.claimed_component_id
),

owners as (
    {{ latest_row_per_key('owner_candidates', 'group_id', 'owner_is_standing desc, owner_claimed_at asc nulls first, owner_id asc') }}
),

final as (
    select
        members.verified_component_id,
        members.group_id,
        owners.owner_id,
        owners.owner_claimed_at,
        owners.owner_is_standing,
        {{ identity_written_at() }} as written_at
    from members
    left join owners on members.group_id = owners.group_id
)

select * from final
