{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- Components above the size cap (var `identity_max_component_size`): a shared
    inbox, a test card, a bot cookie. They are not merged; each of their
    identifiers stays its own person until the bad edge is fixed or denied. -#}
with

components as (
    select * from {{ ref('int_identity__components') }}
),

nodes as (
    select * from {{ ref('int_identity__nodes') }}
),

sized as (
    select
        component_id,
        count(*) as component_size
    from components
    group by component_id
),

final as (
    select
        sized.component_id,
        sized.component_size,
        'component of ' || sized.component_size || ' identifiers exceeds identity_max_component_size = '
        || {{ var('identity_max_component_size') }} as quarantine_reason,
        {{ json_agg_top('nodes.identity_key', ['nodes.sighting_count desc', 'nodes.identity_key asc'], 5) }} as busiest_identity_keys
    from sized
    inner join components on sized.component_id = components.component_id
    inner join nodes on components.node_id = nodes.node_id
    where {{ identity_is_oversized('sized.component_size') }}
    group by sized.component_id, sized.component_size
)

select * from final
