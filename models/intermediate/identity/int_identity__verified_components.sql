{{ config(materialized='table', indexes=[{'columns': ['node_id'], 'unique': true}, {'columns': ['verified_component_id']}]) }}
{#- Connected components over verified edges only (signed webhooks, the API token, operator
    imports, auth.users, activation's own sends): what the system itself can vouch for.
    A component is identified when it holds an identifying identifier (person id, email,
    app user, Stripe customer, Calendly invitee); client-asserted edges are judged against
    these components in int_identity__client_edges. -#}
with

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

verified_edges as (
    select * from {{ ref('int_identity__edges') }}
    where provenance = 'verified' and right_key is not null
),

pairs as (
    select distinct
        left_nodes.node_id as a,
        right_nodes.node_id as b
    from verified_edges
    inner join nodes as left_nodes on verified_edges.left_key = left_nodes.identity_key
    inner join nodes as right_nodes on verified_edges.right_key = right_nodes.identity_key
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

labelled as (
    select
        nodes.node_id,
        nodes.identity_key,
        coalesce(labels.label, nodes.node_id) as verified_component_id,
        {{ is_identifying_type('nodes.identifier_type') }} as is_identifying
    from nodes
    left join {{ label_propagation_result(var('identity_label_passes')) }} as labels on nodes.node_id = labels.node_id
),

final as (
    select
        node_id,
        identity_key,
        verified_component_id,
        bool_or(is_identifying) over (partition by verified_component_id) as is_identified
    from labelled
)

select * from final
