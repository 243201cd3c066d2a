{#- Spark's parquet tables cannot delete or update rows, and a late identification rewrites
    rows anywhere in the table, so on Spark `event` is rebuilt whole each cycle (Databricks'
    Delta tables could run this incremental form with `merge`). The contract's types are
    Postgres names; on Spark the parity test (tests/spark/test_events.py) checks the columns. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    contract={'enforced': target.type != 'spark'},
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['identity_key']},
        {'columns': ['person_id', 'occurred_at']},
        {'columns': ['event_type', 'occurred_at']},
        {'columns': ['raw_table', 'raw_key']},
        {'columns': ['received_at']},
    ],
) }}
{#-
  The unified event table, incremental. Each cycle writes two kinds of rows
  (delete+insert on event_id):
    1. new raw rows: rows received since the newest received_at already here, minus
       a lookback (var event_lookback, for transactions that committed late), that
       are not here yet (anti-join on event_id, so the lookback never duplicates);
    2. late identification: rows already here whose identity_key now resolves to a
       different person in identity_link (an anonymous visitor identified, two
       persons merged). Each event keeps the identifier it named (identity_key), so
       re-resolving needs no raw re-read; in a cycle only the rows of identifiers
       identity rewrote since the last one are compared (macros/identity_graph.sql
       identity_rewritten_since_last_cycle), else all of them.
  auth.users has no arrival column; its few rows are always rechecked by the anti-join.
  Editing the mapping seeds changes only future rows: run `gdp refresh --full-refresh`.
-#}
-- depends_on: {{ ref('int_identity__resolved') }} (read by identity_rewritten_since_last_cycle)
with

unioned as (
    select * from {{ ref('int_events__unioned') }}
),

{#- identity_link is joined by name, not through an import CTE: Postgres materializes a
    CTE read twice, and a materialized CTE cannot use identity_link's index on identity_key,
    so a low guess of the new rows would make a nested loop scan every link per new row. #}

new_events as (
    select unioned.* from unioned
    where unioned.excluded_reason is null
        {%- if is_incremental() %}
            and (
                unioned.raw_table = 'auth.users'
                or unioned.received_at > (
                    select coalesce(max(previous.received_at), {{ min_timestamp() }}) - interval '{{ var("event_lookback") }}'
                    from {{ this }} as previous
                    where previous.raw_table <> 'auth.users'
                )
            )
            and not exists (
                select 1 from {{ this }} as existing
                where existing.event_id = unioned.event_id
            )
        {%- endif %}
),

resolved_new as (
    select
        new_events.event_id,
        identity_link.person_id,
        new_events.occurred_at,
        new_events.source,
        new_events.event_type,
        new_events.source_event,
        new_events.campaign_id,
        new_events.funnel,
        new_events.email_id,
        new_events.properties,
        new_events.identity_key,
        new_events.raw_table,
        new_events.raw_key,
        new_events.landing_id,
        new_events.received_at
    from new_events
    left join {{ ref('identity_link') }} as identity_link on new_events.identity_key = identity_link.identity_key
),

{% if is_incremental() %}
    re_resolved as (
        select
            existing.event_id,
            identity_link.person_id,
            existing.occurred_at,
            existing.source,
            existing.event_type,
            existing.source_event,
            existing.campaign_id,
            existing.funnel,
            existing.email_id,
            existing.properties,
            existing.identity_key,
            existing.raw_table,
            existing.raw_key,
            existing.landing_id,
            existing.received_at
        from {{ this }} as existing
        left join {{ ref('identity_link') }} as identity_link on existing.identity_key = identity_link.identity_key
        where existing.person_id is distinct from identity_link.person_id {{ identity_rewritten_since_last_cycle('existing.identity_key') }}
    ),
{% endif %}

final as (
    select * from resolved_new
    {%- if is_incremental() %}
        union all
        select * from re_resolved
    {%- endif %}
)

select * from final
