{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='identity_key', incremental_strategy='delete+insert',
    post_hook=["{{ identity_analyze() }}"],
    indexes=[{'columns': ['identity_key'], 'unique': true}, {'columns': ['node_id'], 'unique': true}, {'columns': ['written_at']}],
) }}
{#- One row per identifier. node_id is a stable hash of the identity key (the same whatever
    order identifiers arrived in, so an incremental run and a full build agree); the oldest
    identifier of a component (macros/identity_graph.sql identity_age_order: first sighting,
    a fixed type priority, the key) is found per component and names the person. is_verified:
    some verified source row names the identifier (only those give a person's contact email).
    Incremental: the identifiers of every raw component (int_identity__verified_components.graph_id
    of the last run) an edge written since this model's newest row touches, plus new
    identifiers, are recomputed from all their edges and stamped `written_at`; the later
    identity models recompute exactly those. If the last run stopped between here and the
    graph (int_identity__verified_components is behind), everything is recomputed. -#}
{%- set graph = adapter.get_relation(this.database, this.schema, 'int_identity__verified_components') if execute and is_incremental() else none %}
{%- set ns = namespace(incremental=false) %}
{%- if graph is not none %}
    {%- set behind = run_query(
        'select (select max(written_at) from ' ~ this ~ ') > (select coalesce(max(written_at), ' ~ min_timestamp() ~ ') from ' ~ graph ~ ')'
    ) %}
    {%- set ns.incremental = not behind.columns[0].values()[0] %}
{%- endif %}
{#- The relations are named where they are read, not through a shared CTE: a CTE read twice is
    materialized whole, without its indexes. #}
{%- set edges = ref('int_identity__edges') %}
with
{%- if ns.incremental %}

    changed as (
        select
            left_key,
            right_key
        from {{ edges }}
        where written_at > {{ identity_watermark() }}
    ),

    touched as (
        select left_key as identity_key from changed
        union
        select right_key from changed
        where right_key is not null
    ),

    {# A person id and the PostHog distinct id of the same value are one raw component (the standing claim). #}
    touched_and_standing as (
        select identity_key from touched
        union
        select 'posthog_distinct_id:' || substr(identity_key, length('person_id:') + 1) from touched
        where identity_key like 'person\_id:%'
        union
        select 'person_id:' || substr(identity_key, length('posthog_distinct_id:') + 1) from touched
        where identity_key like 'posthog\_distinct\_id:%'
    ),

    region as (
        select touched.identity_key from touched
        union
        select last_graph.identity_key from {{ graph }} as last_graph
        where last_graph.graph_id in (
                select touched_graph.graph_id
                from touched_and_standing
                inner join {{ graph }} as touched_graph on touched_and_standing.identity_key = touched_graph.identity_key
            )
    ),

    {# Raw components are closed under edges: an edge with one end in the region has both there. #}
    {#- read below when ns.incremental; lint renders the two branches apart #}
    region_edges as (  -- noqa: ST03
        select * from {{ edges }}
        where left_key in (select region.identity_key from region)
    ),
{%- endif %}

sightings as (
    select
        left_key as identity_key,
        provenance,
        raw_table,
        raw_key,
        first_seen_at,
        last_seen_at
    from {{ 'region_edges' if ns.incremental else edges }}
    union all
    select
        right_key,
        provenance,
        raw_table,
        raw_key,
        first_seen_at,
        last_seen_at
    from {{ 'region_edges' if ns.incremental else edges }}
    where right_key is not null
),

per_key as (
    select
        identity_key,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as sighting_count,
        bool_or(provenance = 'verified') as is_verified,
        {{ first_by('raw_table', ['first_seen_at', 'raw_table', 'raw_key']) }} as first_raw_table,
        {{ first_by('raw_key', ['first_seen_at', 'raw_table', 'raw_key']) }} as first_raw_key
    from sightings
    group by identity_key
),

final as (
    select
        {{ hash_bigint('identity_key') }} as node_id,
        identity_key,
        split_part(identity_key, ':', 1) as identifier_type,
        substr(identity_key, length(split_part(identity_key, ':', 1)) + 2) as identifier_value,
        first_seen_at,
        last_seen_at,
        sighting_count,
        is_verified,
        first_raw_table,
        first_raw_key,
        {{ identity_written_at() }} as written_at
    from per_key
)

select * from final
