{#-
  Dialect differences of the identity graph (models/intermediate/identity, identity_link,
  models/intermediate/privacy) and its data tests; each run on both engines by
  tests/spark/test_cross_db_macros.py. The graph's label propagation itself dispatches in
  macros/label_propagation.sql (Spark materializes its passes).
-#}

{#- An instant as 'YYYY-MM-DD HH:MM:SS' in UTC (for reasons people read). -#}
{% macro format_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('format_utc_timestamp', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__format_utc_timestamp(expr) -%}
to_char({{ expr }} at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')
{%- endmacro %}

{#- date_format prints in the session time zone; to_utc_timestamp shifts the instant so it prints UTC. -#}
{% macro spark__format_utc_timestamp(expr) -%}
date_format(to_utc_timestamp({{ expr }}, current_timezone()), 'yyyy-MM-dd HH:mm:ss')
{%- endmacro %}


{#- Aggregate: the first `n` values of the group by `order_by` (a list of 'expr [asc|desc] [nulls first|last]'),
    as a JSON array. Null values count, as in array_agg. -#}
{% macro json_agg_top(value, order_by, n) -%}
    {{ return(adapter.dispatch('json_agg_top', 'gdp')(value, order_by, n)) }}
{%- endmacro %}

{% macro default__json_agg_top(value, order_by, n) -%}
to_jsonb((array_agg({{ value }} order by {{ order_by if order_by is string else order_by | join(', ') }}))[1:{{ n }}])
{%- endmacro %}

{#- Spark: the first n of the sorted (value, keys) structs (rows.sql spark_sorted_structs). -#}
{% macro spark__json_agg_top(value, order_by, n) -%}
to_json(transform(slice({{ spark_sorted_structs(value, order_by) }}, 1, {{ n }}), x -> x.v))
{%- endmacro %}


{#- `name as {{ cte_not_materialized() }} (...)`: a CTE read twice that the planner should inline
    (Postgres materializes it otherwise, hiding the tables' indexes); Spark always inlines. -#}
{% macro cte_not_materialized() -%}
    {{ return(adapter.dispatch('cte_not_materialized', 'gdp')()) }}
{%- endmacro %}

{% macro default__cte_not_materialized() -%}not materialized{%- endmacro %}

{% macro spark__cte_not_materialized() -%}{%- endmacro %}
