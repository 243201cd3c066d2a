{{ config(materialized='table', indexes=[{'columns': ['identity_key'], 'unique': true}, {'columns': ['node_id'], 'unique': true}]) }}
{#- One row per identifier. node_id orders identifiers oldest first (first sighting,
    then a fixed type priority, then the key), so the minimum node_id of a component
    is its oldest identifier: label propagation's min label is directly the anchor
    that names the person, and the oldest person survives every merge. is_verified: some
    verified source row names the identifier (only those give a person's contact email). -#}
with

edges as (
    select * from {{ ref('int_identity__edges') }}
),

sightings as (
    select
        left_key as identity_key,
        provenance,
        raw_table,
        raw_key,
        first_seen_at,
        last_seen_at
    from edges
    union all
    select
        right_key,
        provenance,
        raw_table,
        raw_key,
        first_seen_at,
        last_seen_at
    from edges
    where right_key is not null
),

per_key as (
    select
        identity_key,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as sighting_count,
        bool_or(provenance = 'verified') as is_verified,
        (array_agg(raw_table order by first_seen_at, raw_table, raw_key))[1] as first_raw_table,
        (array_agg(raw_key order by first_seen_at, raw_table, raw_key))[1] as first_raw_key
    from sightings
    group by identity_key
),

typed as (
    select
        *,
        split_part(identity_key, ':', 1) as identifier_type,
        substr(identity_key, length(split_part(identity_key, ':', 1)) + 2) as identifier_value
    from per_key
),

final as (
    select
        row_number() over (
            order by
                first_seen_at nulls last,
                case identifier_type
                    when 'person_id' then 0
                    when 'email' then 1
                    when 'app_user_id' then 2
                    when 'stripe_customer' then 3
                    else 9
                end,
                identity_key
        ) as node_id,
        identity_key,
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        sighting_count,
        is_verified,
        first_raw_table,
        first_raw_key
    from typed
)

select * from final
