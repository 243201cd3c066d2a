{#- The cycle's rows of int_events__unioned (its window, macros/cycle_window.sql) have an
    event_id, once each; the nightly run checks the whole history with unique/not_null. -#}
{{ config(meta={'dagster': {'ref': {'name': 'int_events__unioned'}}}) }}
with

cycle_rows as (
    select
        event_id,
        raw_table,
        raw_key
    from {{ ref('int_events__unioned') }}
    where {{ cycle_window('raw_table', 'received_at') }}
)

select
    event_id,
    count(*) as row_count
from cycle_rows
group by event_id
having event_id is null or count(*) > 1
