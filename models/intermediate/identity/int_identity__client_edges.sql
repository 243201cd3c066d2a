-- depends_on: {{ ref('int_identity__nodes') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('left_key') }}"],
    indexes=[{'columns': ['edge_key'], 'unique': true}, {'columns': ['left_key']}, {'columns': ['written_at']}],
) }}
{#- Every client-asserted pair (cookie identify, PostHog, the CAPI relay, click ↔ browser)
    judged against the verified components. PostHog's own rule (no merge of two identified
    persons on $identify / $alias), made stricter: a client may attach anonymous identifiers
    (distinct ids, fbp / fbc, click ids) to its own person, but never join two identified
    components, never tie together anonymous identifiers two persons claimed, and never take
    an anonymous identifier or group another identified person owns (int_identity__claims,
    int_identity__anonymous_groups). refused_reason says why; null = accepted.
    Incremental: the edges of the region (macros/identity_graph.sql). -#}
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

all_claims as (
    select * from {{ ref('int_identity__claims') }}
    {%- if is_incremental() %}
        where claimed_key in (select region.identity_key from region)
    {%- endif %}
),

claims as (
    select * from all_claims
    where edge_key is not null
),

direct_owners as (
    select distinct
        claimed_component_id,
        direct_owner_id
    from all_claims
),

groups as (
    select * from {{ ref('int_identity__anonymous_groups') }}
    {%- if is_incremental() %}
        where verified_component_id in (select region.node_id from region)
    {%- endif %}
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
        not left_side.is_identified and not right_side.is_identified
        and left_owner.direct_owner_id <> right_owner.direct_owner_id as ties_two_claims,
        claims.claimant_id,
        direct_owner.direct_owner_id,
        claimed_group.owner_id as group_owner_id,
        claimed_group.owner_claimed_at,
        claimed_group.owner_is_standing
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    left join direct_owners as left_owner on left_side.verified_component_id = left_owner.claimed_component_id
    left join direct_owners as right_owner on right_side.verified_component_id = right_owner.claimed_component_id
    left join claims on edges.edge_key = claims.edge_key
    left join direct_owners as direct_owner on claims.claimed_component_id = direct_owner.claimed_component_id
    left join groups as claimed_group on claims.claimed_component_id = claimed_group.verified_component_id
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
            when ties_two_claims then 'would tie together anonymous identifiers that two identified persons claimed'
            when claimant_id is null then null
            when claimant_id <> group_owner_id and owner_is_standing
                then 'claims an anonymous identifier another identified person already owns (a distinct id named after that person)'
            when claimant_id <> group_owner_id
                then 'claims an anonymous identifier another identified person already owns (claimed first at '
                    || {{ format_utc_timestamp('owner_claimed_at') }} || 'Z)'
        end as refused_reason
    from judged
)

select
    *,
    refused_reason is null as is_accepted,
    {{ identity_written_at() }} as written_at
from final
