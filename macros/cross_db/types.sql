{#-
  Casts. `type` is a logical name: text, integer, bigint, numeric, double, boolean,
  timestamp (UTC instant: timestamptz on Postgres, TIMESTAMP in a UTC session on Spark), json.
  Use these instead of `::` (Spark has no `::`, and its types are named differently).
-#}

{% macro sql_type(type) -%}
    {{ return(adapter.dispatch('sql_type', 'gdp')(type)) }}
{%- endmacro %}

{% macro default__sql_type(type) -%}
{%- set names = {'text': 'text', 'integer': 'integer', 'bigint': 'bigint', 'numeric': 'numeric',
                 'double': 'double precision', 'boolean': 'boolean', 'timestamp': 'timestamptz', 'json': 'jsonb'} -%}
{%- if type not in names -%}{{ exceptions.raise_compiler_error('sql_type: unknown type ' ~ type ~ ', one of ' ~ names.keys() | join(', ')) }}{%- endif -%}
{{ names[type] }}
{%- endmacro %}

{% macro spark__sql_type(type) -%}
{%- set names = {'text': 'string', 'integer': 'int', 'bigint': 'bigint', 'numeric': 'decimal(38, 9)',
                 'double': 'double', 'boolean': 'boolean', 'timestamp': 'timestamp', 'json': 'string'} -%}
{%- if type not in names -%}{{ exceptions.raise_compiler_error('sql_type: unknown type ' ~ type ~ ', one of ' ~ names.keys() | join(', ')) }}{%- endif -%}
{{ names[type] }}
{%- endmacro %}


{#- A cast that fails on bad input on Postgres (`x::t`). On Spark (ANSI off, as dbt-spark sets it) bad input gives null. -#}
{% macro cast_as(expr, type) -%}
cast({{ expr }} as {{ sql_type(type) }})
{%- endmacro %}


{#- A null of a type, for the typed empty selects of models whose source may be missing. -#}
{% macro typed_null(type) -%}
cast(null as {{ sql_type(type) }})
{%- endmacro %}


{#- A cast that gives null where the text is not a valid value of the type, on both engines. -#}
{% macro try_cast_as(expr, type) -%}
    {{ return(adapter.dispatch('try_cast_as', 'gdp')(expr, type)) }}
{%- endmacro %}

{#- pg_input_is_valid is PostgreSQL 16+. -#}
{% macro default__try_cast_as(expr, type) -%}
case when pg_input_is_valid(({{ expr }})::text, '{{ sql_type(type) }}') then ({{ expr }})::text::{{ sql_type(type) }} end
{%- endmacro %}

{% macro spark__try_cast_as(expr, type) -%}
try_cast({{ expr }} as {{ sql_type(type) }})
{%- endmacro %}
