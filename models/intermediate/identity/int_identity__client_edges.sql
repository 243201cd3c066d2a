{{ config(materialized='table', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Every client-asserted pair (cookie identify, PostHog, the CAPI relay, click ↔ browser)
    judged against the verified components. PostHog's own rule (no merge of two identified
    persons on $identify / $alias), made stricter: a client may attach anonymous identifiers
    (distinct ids, fbp / fbc, click ids) to its own person, but never join two identified
    components, and never take an anonymous group another identified person claimed first
    (int_identity__claims). refused_reason says why an edge was refused; null = accepted. -#}
with

edges as (
    select * from {{ ref('int_identity__edges') }}
    where provenance = 'client_asserted' and right_key is not null
),

components as (
    select * from {{ ref('int_identity__verified_components') }}
),

claims as (
    select * from {{ ref('int_identity__claims') }}
    where edge_key is not null
),

judged as (
    select
        edges.edge_key,
        edges.left_key,
        edges.right_key,
        edges.first_seen_at,
        edges.last_seen_at,
        edges.raw_table,
        edges.raw_key,
        left_side.verified_component_id as left_component_id,
        right_side.verified_component_id as right_component_id,
        left_side.is_identified and right_side.is_identified as joins_two_identified,
        claims.is_winner,
        claims.group_has_standing_claim,
        claims.winner_claimed_at
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    left join claims on edges.edge_key = claims.edge_key
),

final as (
    select
        edge_key,
        left_key,
        right_key,
        first_seen_at,
        last_seen_at,
        raw_table,
        raw_key,
        left_component_id,
        right_component_id,
        case
            when left_component_id = right_component_id then null
            when joins_two_identified then 'client-asserted edge would join two identified persons'
            when not is_winner and group_has_standing_claim
                then 'claims an anonymous identifier another identified person already owns (a distinct id named after that person)'
            when not is_winner
                then 'claims an anonymous identifier another identified person already owns (claimed first at '
                || to_char(winner_claimed_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || 'Z)'
        end as refused_reason
    from judged
)

select
    *,
    refused_reason is null as is_accepted
from final
