-- depends_on: {{ ref('int_identity__nodes') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('claimed_key') }}"],
    indexes=[{'columns': ['claimed_key']}, {'columns': ['written_at']}],
) }}
{#- Identified components laying claim to anonymous ones: each client-asserted edge with one
    identified end and one anonymous end, plus the standing claim of a person id on the PostHog
    distinct id of the same value (gdp.js names the browser after the cookie's person, so that
    distinct id is theirs before anyone else's). The identity keys are kept so forgetting a
    person finds their rows here too. direct_owner_id: per claimed component the
    standing claim wins, then the first claim by time (ties: the smallest claimant component id).
    Incremental: the claims of the region (macros/identity_graph.sql). -#}
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

one_sided as (
    select
        edges.edge_key,
        case when left_side.is_identified then edges.left_key else edges.right_key end as claimant_key,
        case when left_side.is_identified then edges.right_key else edges.left_key end as claimed_key,
        case when left_side.is_identified then left_side.verified_component_id else right_side.verified_component_id end as claimant_id,
        case when left_side.is_identified then right_side.verified_component_id else left_side.verified_component_id end
            as claimed_component_id,
        edges.first_seen_at as claimed_at,
        false as is_standing
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    where left_side.is_identified <> right_side.is_identified
),

standing as (
    select
        null as edge_key,
        person.identity_key as claimant_key,
        browser.identity_key as claimed_key,
        person.verified_component_id as claimant_id,
        browser.verified_component_id as claimed_component_id,
        {{ typed_null('timestamp') }} as claimed_at,
        true as is_standing
    from components as browser
    inner join components as person
        on person.identity_key = 'person_id:' || substr(browser.identity_key, length('posthog_distinct_id:') + 1)
    where browser.identity_key like 'posthog\_distinct\_id:%' and not browser.is_identified
),

claims as (
    select * from one_sided
    union all
    select * from standing
),

final as (
    select
        *,
        first_value(claimant_id) over (
            partition by claimed_component_id order by is_standing desc, claimed_at asc nulls first, claimant_id asc
        ) as direct_owner_id,
        {{ identity_written_at() }} as written_at
    from claims
)

select * from final
