{#-
  Collections of a group's values: distinct, sorted, nulls left out, and an empty group
  giving the same answer on both engines.
-#}

{#- Sorted distinct non-null values as an array; an empty group gives an empty array. -#}
{% macro array_agg_distinct(expr) -%}
    {{ return(adapter.dispatch('array_agg_distinct', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__array_agg_distinct(expr) -%}
coalesce(array_agg(distinct {{ expr }} order by {{ expr }}) filter (where {{ expr }} is not null), '{}')
{%- endmacro %}

{% macro spark__array_agg_distinct(expr) -%}
array_sort(collect_set({{ expr }}))
{%- endmacro %}


{#- Sorted distinct non-null values joined by `separator`; an empty group gives null. -#}
{% macro string_agg_distinct(expr, separator) -%}
    {{ return(adapter.dispatch('string_agg_distinct', 'gdp')(expr, separator)) }}
{%- endmacro %}

{% macro default__string_agg_distinct(expr, separator) -%}
string_agg(distinct {{ expr }}, {{ separator }} order by {{ expr }})
{%- endmacro %}

{% macro spark__string_agg_distinct(expr, separator) -%}
case when size(collect_set({{ expr }})) > 0 then array_join(array_sort(collect_set({{ expr }})), {{ separator }}) end
{%- endmacro %}


{#- Sorted distinct non-null values as a JSON array; an empty group gives []. -#}
{% macro json_agg_distinct(expr) -%}
    {{ return(adapter.dispatch('json_agg_distinct', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__json_agg_distinct(expr) -%}
coalesce(jsonb_agg(distinct {{ expr }} order by {{ expr }}) filter (where {{ expr }} is not null), '[]'::jsonb)
{%- endmacro %}

{% macro spark__json_agg_distinct(expr) -%}
to_json(array_sort(collect_set({{ expr }})))
{%- endmacro %}


{#- A JSON object of a group's key -> value pairs (jsonb_object_agg). -#}
{% macro json_object_agg(key_expr, value_expr) -%}
    {{ return(adapter.dispatch('json_object_agg', 'gdp')(key_expr, value_expr)) }}
{%- endmacro %}

{% macro default__json_object_agg(key_expr, value_expr) -%}
jsonb_object_agg({{ key_expr }}, {{ value_expr }})
{%- endmacro %}

{% macro spark__json_object_agg(key_expr, value_expr) -%}
to_json(map_from_entries(collect_list(struct({{ key_expr }}, {{ value_expr }}))))
{%- endmacro %}


{#- The first `n` elements of an array (Postgres arr[1:n]). -#}
{% macro array_head(array_expr, n) -%}
    {{ return(adapter.dispatch('array_head', 'gdp')(array_expr, n)) }}
{%- endmacro %}

{% macro default__array_head(array_expr, n) -%}({{ array_expr }})[1:{{ n }}]{%- endmacro %}

{% macro spark__array_head(array_expr, n) -%}slice({{ array_expr }}, 1, {{ n }}){%- endmacro %}
