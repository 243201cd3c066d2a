{#- The rows a cycle's data tests look at: raw rows received since the last successful
    cycle's newest arrival of their table, minus the event lookback (var event_lookback).
    The cycle passes those marks in GDP_CYCLE_SINCE (orchestration/cycle_plan.py), a JSON
    object {raw_table: newest received_at}; without it (first cycle, --full-refresh, nightly,
    plain `dbt build`) every row is in the window. A table missing from the object is checked
    whole. Nightly runs the full-history twins of these tests (tag `nightly`). -#}
{% macro cycle_window(raw_table_expr, received_expr) -%}
{%- set since = fromjson(env_var('GDP_CYCLE_SINCE', '{}')) or {} -%}
{%- if since -%}
({{ received_expr }} >= case {{ raw_table_expr }}
    {%- for table, at in since | dictsort %}
        when {{ text_literal(table) }} then {{ cast_as(text_literal(at), 'timestamp') }} - interval '{{ var("event_lookback") }}'
    {%- endfor %}
        else {{ min_timestamp() }}
    end)
{%- else -%}
(1 = 1)
{%- endif -%}
{%- endmacro %}
