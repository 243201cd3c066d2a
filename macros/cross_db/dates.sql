{#-
  Date math. A literal `interval '7 days'` is read the same by both engines (tested in
  tests/spark/test_cross_db_macros.py); these cover amounts that are expressions, epoch
  seconds and the "before everything" watermark.
-#}

{#- expr + amount units; amount may be any integer expression (negative goes back). -#}
{% macro add_interval(expr, amount, unit) -%}
    {%- if unit not in ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'] -%}
        {{ exceptions.raise_compiler_error('add_interval: unit must be second, minute, hour, day, week, month or year, got ' ~ unit) }}
    {%- endif -%}
    {{ return(adapter.dispatch('add_interval', 'gdp')(expr, amount, unit)) }}
{%- endmacro %}

{% macro default__add_interval(expr, amount, unit) -%}
(({{ expr }}) + ({{ amount }}) * interval '1 {{ unit }}')
{%- endmacro %}

{% macro spark__add_interval(expr, amount, unit) -%}
timestampadd({{ unit | upper }}, {{ amount }}, {{ expr }})
{%- endmacro %}


{#- Seconds from `start_expr` to `end_expr`, fractional. -#}
{% macro seconds_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('seconds_between', 'gdp')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__seconds_between(start_expr, end_expr) -%}
extract(epoch from (({{ end_expr }}) - ({{ start_expr }})))::double precision
{%- endmacro %}

{% macro spark__seconds_between(start_expr, end_expr) -%}
((unix_micros({{ end_expr }}) - unix_micros({{ start_expr }})) / 1000000.0d)
{%- endmacro %}


{#- Unix seconds (number or numeric text; '' is null) to a UTC instant. -#}
{% macro epoch_to_timestamp(expr) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(expr) -%}
to_timestamp(nullif(({{ expr }})::text, '')::double precision)
{%- endmacro %}

{% macro spark__epoch_to_timestamp(expr) -%}
timestamp_micros(cast(cast(nullif(cast({{ expr }} as string), '') as double) * 1000000 as bigint))
{%- endmacro %}


{#- An instant before every event: the watermark of an empty table. Spark has no -infinity. -#}
{% macro min_timestamp() -%}
    {{ return(adapter.dispatch('min_timestamp', 'gdp')()) }}
{%- endmacro %}

{% macro default__min_timestamp() -%}'-infinity'::timestamptz{%- endmacro %}

{% macro spark__min_timestamp() -%}timestamp'1900-01-01 00:00:00'{%- endmacro %}
