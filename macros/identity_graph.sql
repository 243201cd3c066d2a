{#
  The identity graph's incremental bookkeeping (models/intermediate/identity/).

  Every decision identity makes about an identifier (its verified component, the claims on it,
  its anonymous group, whether a client edge is accepted, its person) depends only on the
  identifiers it is connected to by some edge of any provenance, or by a standing claim
  (person_id:v and posthog_distinct_id:v): its *raw component* (graph_id). So a cycle
  recomputes whole raw components and nothing else:

  - int_identity__edges writes only pairs whose proof changed, stamped `written_at`;
  - int_identity__nodes takes the pairs written since its own newest `written_at`, finds the
    raw components of their ends in the last graph (int_identity__verified_components.graph_id),
    and rewrites every identifier of those components (the region), stamped with this run;
  - every later identity model recomputes the identifiers int_identity__nodes wrote since its
    own newest `written_at`, with the same SQL as a full build restricted to that region,
    after deleting its rows for the region (its pre-hook).

  A full build (`--full-refresh`) computes everything and gives the same rows;
  `written_at` is the only column that differs (it says which run wrote a row).
#}

{#- The stamp of the rows this run writes: the invocation's start, the same for every model of
    one `dbt build`, later for every later build. -#}
{% macro identity_written_at() -%}
{{ cast_as(text_literal(run_started_at ~ ''), 'timestamp') }}
{%- endmacro %}


{#- This model's newest `written_at` as a SQL literal, read once when the model compiles so its
    pre-hook and its select agree on the region; none on a full build. -#}
{% macro identity_watermark() -%}
    {%- if not execute or not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set newest = run_query('select ' ~ cast_as('max(written_at)', 'text') ~ ' from ' ~ this) -%}
    {%- set value = newest.columns[0].values()[0] -%}
    {{ return(cast_as(text_literal(value), 'timestamp') if value else min_timestamp()) }}
{%- endmacro %}


{#- The identifiers this model recomputes on an incremental run: those int_identity__nodes wrote
    after this model's newest row (whole raw components). -#}
{% macro identity_region() -%}
select identity_key, node_id from {{ ref('int_identity__nodes') }} where written_at > {{ identity_watermark() }}
{%- endmacro %}


{#- Pre-hook of the models after int_identity__nodes: drop this model's rows of the region
    (`column` holds an identity key, or a node id when `by_node_id`), so rows the region no
    longer yields (a claim that stopped being one, a merged-away component) go too. -#}
{% macro identity_forget_region(column, by_node_id=false) -%}
{%- if is_incremental() -%}
delete from {{ this }} where {{ column }} in (
    select {{ 'node_id' if by_node_id else 'identity_key' }} from ({{ identity_region() }}) as region
)
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}


{#- The ordering that names a component: oldest first sighting, then a fixed type priority,
    then the key. The first identifier of a component in this order is its anchor, whose
    node_id is the component_id and whose identifier names the person. -#}
{% macro identity_age_order(alias) -%}
{{ alias }}.first_seen_at nulls last, {{ identity_type_priority(alias ~ '.identifier_type') }}, {{ alias }}.identity_key
{%- endmacro %}

{% macro identity_type_priority(identifier_type_expr) -%}
case {{ identifier_type_expr }}
    when 'person_id' then 0
    when 'email' then 1
    when 'app_user_id' then 2
    when 'stripe_customer' then 3
    else 9
end
{%- endmacro %}


{#- The one size rule: a component above var identity_max_component_size is quarantined. -#}
{% macro identity_is_oversized(size_expr) -%}
({{ size_expr }} > {{ var('identity_max_component_size') }})
{%- endmacro %}



{#- Post-hook of int_identity__edges and int_identity__nodes: fresh statistics, so the planner
    of the next model sees how many rows this run stamped (a stale estimate of one row for
    `written_at > watermark` turned a region of 40k identifiers into nested loops of minutes). -#}
{% macro identity_analyze() -%}
    {{ return(adapter.dispatch('identity_analyze', 'gdp')()) }}
{%- endmacro %}

{% macro default__identity_analyze() -%}analyze {{ this }}{%- endmacro %}

{% macro spark__identity_analyze() -%}select 1{%- endmacro %}


{#- What `event` re-resolves on an incremental run (models/marts/event.sql): a condition on its
    identity key column. A late identification or a merge changes the person of identifiers
    int_identity__resolved rewrote; the cycle passes in GDP_IDENTITY_SINCE the newest `written_at`
    of int_identity__resolved when the last successful cycle ended (orchestration/cycle_plan.py),
    so event re-reads only its rows whose identity key is one of those identifiers or the derived
    alias of one (identity_link's `derived_alias` rows), through its index on identity_key.
    Without it (first cycle, --full-refresh, a plain `dbt build`) nothing is added: every row of
    event is compared with identity_link. -#}
{% macro identity_rewritten_since_last_cycle(identity_key_column) -%}
{%- set since = env_var('GDP_IDENTITY_SINCE', '') -%}
{%- if since -%}
{%- set written_after = 'resolved.written_at > ' ~ cast_as(text_literal(since), 'timestamp') %}
and {{ identity_key_column }} in (
    select resolved.identity_key from {{ ref('int_identity__resolved') }} as resolved where {{ written_after }}
    union all
    select 'person_id:' || {{ derived_person_id('resolved.identity_key') }}
    from {{ ref('int_identity__resolved') }} as resolved
    where {{ written_after }} and resolved.identifier_type <> 'person_id'
)
{%- endif -%}
{%- endmacro %}
