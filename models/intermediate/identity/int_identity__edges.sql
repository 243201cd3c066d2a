{{ config(
    contract={'enforced': target.type != 'spark'},
    materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', on_schema_change='fail',
    post_hook=["{{ identity_analyze() }}"],
    indexes=[{'columns': ['edge_key'], 'unique': true}, {'columns': ['left_key']}, {'columns': ['right_key']}, {'columns': ['written_at']}],
) }}
{#- Every identifier pair some source row proves belongs to one person, plus lone
    sightings (right_key null) so an identifier seen alone still becomes a person.
    One model per source (int_identity__edges_<source>, each incremental on its own
    watermark) says which pairs its rows prove and with what provenance: `verified`
    (signed provider webhooks, calls with GDP_API_TOKEN, operator imports, auth.users,
    activation's own sends) or `client_asserted` (browser and PostHog claims).
    Here: one row per (left_key, right_key, provenance) with the first source row that proved it.
    Incremental: the pairs some source model rewrote since the newest one here (their
    last_received_at, less twice var event_lookback, the same late-commit margin the source
    models take; auth.users, a table without arrival times, always) are re-aggregated over
    every source, and only those whose proof changed are written, stamped `written_at`:
    int_identity__nodes recomputes the raw components they touch (macros/identity_graph.sql). -#}
{%- set sources = [
    'int_identity__edges_resend', 'int_identity__edges_activation', 'int_identity__edges_stripe', 'int_identity__edges_posthog',
    'int_identity__edges_tracking', 'int_identity__edges_meta_capi', 'int_identity__edges_app', 'int_identity__edges_auth',
    'int_identity__edges_cal', 'int_identity__edges_calendly', 'int_identity__edges_deals', 'int_identity__edges_leads',
] %}
{#- The source models are named where they are read: a CTE read twice is materialized whole. #}
with
{%- if is_incremental() %}

    candidates as (
        {%- for name in sources %}
            select source_edges.edge_key from {{ ref(name) }} as source_edges
            where source_edges.last_received_at is null or source_edges.last_received_at > (
                    select coalesce(max(previous.last_received_at), {{ min_timestamp() }}) - 2 * interval '{{ var("event_lookback") }}'
                    from {{ this }} as previous
                )
            {%- if not loop.last %}
                union{% endif %}
        {%- endfor %}
    ),
{%- endif %}

unioned as (
    {%- for name in sources %}
        select
            left_key,
            right_key,
            provenance,
            first_seen_at,
            last_seen_at,
            raw_table,
            raw_key,
            last_received_at
        from {{ ref(name) }}
        {%- if is_incremental() %}
            where edge_key in (select candidates.edge_key from candidates)
        {%- endif %}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
),

aggregated as (
    select
        left_key || '|' || coalesce(right_key, '') || '|' || provenance as edge_key,
        left_key,
        right_key,
        provenance,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ first_by('raw_table', ['first_seen_at', 'raw_table', 'raw_key']) }} as raw_table,
        {{ first_by('raw_key', ['first_seen_at', 'raw_table', 'raw_key']) }} as raw_key,
        max(last_received_at) as last_received_at
    from unioned
    group by left_key, right_key, provenance
),

final as (
    select
        aggregated.*,
        {{ identity_written_at() }} as written_at
    from aggregated
    {%- if is_incremental() %}
        left join {{ this }} as known on aggregated.edge_key = known.edge_key
        where known.edge_key is null
            or known.first_seen_at is distinct from aggregated.first_seen_at
            or known.last_seen_at is distinct from aggregated.last_seen_at
            or known.raw_table is distinct from aggregated.raw_table
            or known.raw_key is distinct from aggregated.raw_key
    {%- endif %}
)

select * from final
