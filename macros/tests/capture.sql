{#- Raw rows received before this dbt invocation started that are neither a row of `event`
    nor excluded for a recorded reason. `windowed`: only the rows of this cycle's window
    (macros/cycle_window.sql), so the per-cycle guard costs what arrived; the nightly twin
    looks at the whole history. -#}
{% macro uncaptured_raw_rows(windowed) %}
with

raw_rows as (
    select * from {{ ref('int_capture__raw_rows') }}
    where received_at < {{ cast_as(text_literal(run_started_at), 'timestamp') }}
    {%- if windowed %}
        and {{ cycle_window('raw_table', 'received_at') }}
    {%- endif %}
),

excluded as (
    select
        raw_table,
        raw_key
    from {{ ref('int_events__unioned') }}
    where excluded_reason is not null
    {%- if windowed %}
        and {{ cycle_window('raw_table', 'received_at') }}
    {%- endif %}
)

select raw_rows.*
from raw_rows
where not exists (
        select 1 from {{ ref('event') }} as events
        where events.raw_table = raw_rows.raw_table and events.raw_key = raw_rows.raw_key
    )
    and not exists (
        select 1 from excluded
        where excluded.raw_table = raw_rows.raw_table and excluded.raw_key = raw_rows.raw_key
    )
{% endmacro %}
