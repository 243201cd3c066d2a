{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- Client-asserted edges the identity graph refused, with the reason (from
    int_identity__client_edges): visible, never silently dropped; `gdp person explain`
    lists the ones touching a person. -#}
with

client_edges as (
    select * from {{ ref('int_identity__client_edges') }}
),

final as (
    select
        edge_key,
        left_key,
        right_key,
        'client_asserted' as provenance,
        first_seen_at,
        last_seen_at,
        raw_table,
        raw_key,
        refused_reason as reason
    from client_edges
    where not is_accepted
)

select * from final
