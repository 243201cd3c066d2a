{{ config(materialized='table', indexes=[{'columns': ['edge_key'], 'unique': true}, {'columns': ['left_key']}, {'columns': ['right_key']}]) }}
{#- Every identifier pair some source row proves belongs to one person, plus lone
    sightings (right_key null) so an identifier seen alone still becomes a person.
    One model per source (int_identity__edges_<source>, each incremental on its own
    watermark) says which pairs its rows prove and with what provenance: `verified`
    (signed provider webhooks, calls with GDP_API_TOKEN, operator imports, auth.users,
    activation's own sends) or `client_asserted` (browser and PostHog claims).
    Here: one row per (left_key, right_key, provenance) with the first source row that proved it. -#}
{%- set sources = [
    'int_identity__edges_resend', 'int_identity__edges_activation', 'int_identity__edges_stripe', 'int_identity__edges_posthog',
    'int_identity__edges_tracking', 'int_identity__edges_meta_capi', 'int_identity__edges_app', 'int_identity__edges_auth',
    'int_identity__edges_cal', 'int_identity__edges_calendly', 'int_identity__edges_deals', 'int_identity__edges_leads',
] %}
with

{% for name in sources %}
    {{ name.replace('int_identity__edges_', '') }} as (
        select * from {{ ref(name) }}
    ),
{% endfor %}

unioned as (
    {%- for name in sources %}
        select
            left_key,
            right_key,
            provenance,
            first_seen_at,
            last_seen_at,
            raw_table,
            raw_key
        from {{ name.replace('int_identity__edges_', '') }}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
),

final as (
    select
        left_key || '|' || coalesce(right_key, '') || '|' || provenance as edge_key,
        left_key,
        right_key,
        provenance,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ first_by('raw_table', ['first_seen_at', 'raw_table', 'raw_key']) }} as raw_table,
        {{ first_by('raw_key', ['first_seen_at', 'raw_table', 'raw_key']) }} as raw_key
    from unioned
    group by left_key, right_key, provenance
)

select * from final
