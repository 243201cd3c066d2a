{#-
  JSON access. Postgres keeps payloads as jsonb; Spark keeps them as JSON text (a string
  column), so every read of a field goes through these. `path` is a list of keys
  (['data', 'object', 'id']) or one key ('type').
-#}

{% macro json_path_keys(path) -%}
    {{ return([path] if path is string else path) }}
{%- endmacro %}


{#- The Postgres text[] of a path: array['data', 'object']. -#}
{% macro json_pg_path(path) -%}
array[{% for key in json_path_keys(path) %}'{{ key | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %}]::text[]
{%- endmacro %}


{#- The JSONPath Spark reads: $['data']['object'] (bracket form, so keys may hold dots). -#}
{#- An integer in the path is an array index on both engines ($['to'][0], Postgres' '{to,0}'). -#}
{% macro json_spark_path(path) -%}
'${% for key in json_path_keys(path) %}{% if key is number %}[{{ key }}]{% else %}[\'{{ key | replace("\\", "\\\\") | replace("'", "\\'") }}\']{% endif %}{% endfor %}'
{%- endmacro %}


{#- A field as text (Postgres ->> / #>>): strings unquoted, objects and arrays as JSON text. -#}
{% macro json_get_text(json_expr, path) -%}
    {{ return(adapter.dispatch('json_get_text', 'gdp')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_get_text(json_expr, path) -%}
(({{ json_expr }}) #>> {{ json_pg_path(path) }})
{%- endmacro %}

{% macro spark__json_get_text(json_expr, path) -%}
get_json_object({{ json_expr }}, {{ json_spark_path(path) }})
{%- endmacro %}


{#- A field as JSON (Postgres -> / #>), to read further or to keep as a JSON value. -#}
{% macro json_get(json_expr, path) -%}
    {{ return(adapter.dispatch('json_get', 'gdp')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_get(json_expr, path) -%}
(({{ json_expr }}) #> {{ json_pg_path(path) }})
{%- endmacro %}

{#- get_json_object unquotes a string scalar; a string stays a string only through to_json. -#}
{% macro spark__json_get(json_expr, path) -%}
to_json(variant_get(try_parse_json({{ json_expr }}), {{ json_spark_path(path) }}))
{%- endmacro %}


{#- Postgres jsonb_typeof of a field: object, array, string, number, boolean, null; missing -> null. -#}
{% macro json_typeof(json_expr, path) -%}
    {{ return(adapter.dispatch('json_typeof', 'gdp')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_typeof(json_expr, path) -%}
jsonb_typeof(({{ json_expr }}) #> {{ json_pg_path(path) }})
{%- endmacro %}

{% macro spark__json_typeof(json_expr, path) -%}
{%- set schema -%}schema_of_variant(variant_get(try_parse_json({{ json_expr }}), {{ json_spark_path(path) }})){%- endset -%}
case
    when {{ schema }} like 'OBJECT%' then 'object'
    when {{ schema }} like 'ARRAY%' then 'array'
    when {{ schema }} = 'STRING' then 'string'
    when {{ schema }} = 'BOOLEAN' then 'boolean'
    when {{ schema }} = 'VOID' then 'null'
    when {{ schema }} is not null then 'number'
end
{%- endmacro %}


{#- The elements of a JSON array as rows, each as JSON text: use in FROM as
    `cross join lateral {{ json_array_elements('x') }} as items (item)`. A non-array gives no rows. -#}
{% macro json_array_elements(json_expr) -%}
    {{ return(adapter.dispatch('json_array_elements', 'gdp')(json_expr)) }}
{%- endmacro %}

{% macro default__json_array_elements(json_expr) -%}
jsonb_array_elements(case when jsonb_typeof({{ json_expr }}) = 'array' then {{ json_expr }} else '[]'::jsonb end)
{%- endmacro %}

{#- from_json with array<string> keeps nested objects as their JSON text. -#}
{% macro spark__json_array_elements(json_expr) -%}
explode(coalesce(from_json({{ json_expr }}, 'array<string>'), array()))
{%- endmacro %}


{#- The elements of a JSON array with their 1-based position, columns (item, ordinal): use in FROM as
    `cross join lateral {{ json_array_elements_ordered('x') }} as elements (item, ordinal)`. -#}
{% macro json_array_elements_ordered(json_expr) -%}
    {{ return(adapter.dispatch('json_array_elements_ordered', 'gdp')(json_expr)) }}
{%- endmacro %}

{% macro default__json_array_elements_ordered(json_expr) -%}
jsonb_array_elements(case when jsonb_typeof({{ json_expr }}) = 'array' then {{ json_expr }} else '[]'::jsonb end) with ordinality
{%- endmacro %}

{% macro spark__json_array_elements_ordered(json_expr) -%}
inline(transform(coalesce(from_json({{ json_expr }}, 'array<string>'), array()), (x, i) -> named_struct('item', x, 'ordinal', i + 1)))
{%- endmacro %}


{#- Whether some element of a JSON array satisfies `predicate`, which names the element `element`
    (a JSON value it reads with json_get_text); a non-array or null predicate counts as false. -#}
{% macro json_array_any(json_expr, element, predicate) -%}
    {{ return(adapter.dispatch('json_array_any', 'gdp')(json_expr, element, predicate)) }}
{%- endmacro %}

{% macro default__json_array_any(json_expr, element, predicate) -%}
exists (select 1 from {{ default__json_array_elements(json_expr) }} as gdp_elements ({{ element }}) where {{ predicate }})
{%- endmacro %}

{% macro spark__json_array_any(json_expr, element, predicate) -%}
exists(coalesce(from_json({{ json_expr }}, 'array<string>'), array()), {{ element }} -> coalesce({{ predicate }}, false))
{%- endmacro %}


{#- A list of {"name": ..., "value": ...} objects as one JSON object name -> value (later names win);
    elements that are not objects or have no name are left out; an empty list gives {}. -#}
{% macro json_name_value_object(json_expr) -%}
    {{ return(adapter.dispatch('json_name_value_object', 'gdp')(json_expr)) }}
{%- endmacro %}

{% macro default__json_name_value_object(json_expr) -%}
coalesce(
    (
        select jsonb_object_agg(gdp_tag ->> 'name', gdp_tag -> 'value' order by gdp_position)
        from {{ default__json_array_elements_ordered(json_expr) }} as gdp_tags (gdp_tag, gdp_position)
        where jsonb_typeof(gdp_tag) = 'object' and coalesce(gdp_tag ->> 'name', '') <> ''
    ),
    '{}'::jsonb
)
{%- endmacro %}

{#- Spark: values as text ("5", not 5: read them with json_get_text); later names win through
    spark.sql.mapKeyDedupPolicy = LAST_WIN (profiles.yml). -#}
{% macro spark__json_name_value_object(json_expr) -%}
coalesce(to_json(map_from_entries(transform(
    filter(coalesce(from_json({{ json_expr }}, 'array<string>'), array()),
        t -> {{ spark__json_typeof('t', []) }} = 'object' and coalesce(get_json_object(t, '$.name'), '') <> ''),
    t -> struct(get_json_object(t, '$.name'), get_json_object(t, '$.value'))
))), '{}')
{%- endmacro %}


{#- A JSON object from key/value pairs, null values left out (jsonb_strip_nulls(jsonb_build_object(...))).
    `pairs` is a list of [key, expression] or [key, expression, kind]; kind says what Spark must
    know about a value that Postgres' jsonb_build_object knows from its type: 'json' (a JSON
    value, kept as JSON rather than as a string) or 'timestamp' (printed as jsonb prints a
    timestamptz in a UTC session: 2026-11-25T10:00:00.5+00:00). -#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'gdp')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
jsonb_strip_nulls(jsonb_build_object({% for pair in pairs %}'{{ pair[0] }}', {{ pair[1] }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{#- to_json drops null fields by default; a JSON value goes in as a variant, which to_json
    writes as JSON, JSON nulls included: jsonb_strip_nulls drops those too, at any depth
    (spark__json_strip_nulls), a top-level JSON null (`{"a": null}` -> 'a') among them. -#}
{% macro spark__json_object(pairs) -%}
{%- if pairs | length == 0 -%}'{}'{%- else -%}
{%- set built -%}
to_json(named_struct({% for pair in pairs %}'{{ pair[0] }}', {{ spark__json_object_value(pair) }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endset -%}
{%- set kinds = namespace(json=false) -%}
{%- for pair in pairs if pair | length > 2 and pair[2] == 'json' -%}{%- set kinds.json = true -%}{%- endfor -%}
{{ spark__json_strip_nulls(built) if kinds.json else built }}
{%- endif -%}
{%- endmacro %}

{% macro spark__json_object_value(pair) -%}
{%- set kind = pair[2] if pair | length > 2 else none -%}
{%- if kind == 'json' -%}
try_parse_json({{ pair[1] }})
{%- elif kind == 'timestamp' -%}
{{ spark__json_timestamp_text(pair[1]) }}
{%- elif kind is none -%}
{{ pair[1] }}
{%- else -%}
{{ exceptions.raise_compiler_error('json_object: unknown kind ' ~ kind ~ ' (json or timestamp)') }}
{%- endif -%}
{%- endmacro %}

{#- jsonb_strip_nulls of compact JSON text (as to_json writes it): every object field whose value
    is null goes, at any depth; nulls in arrays stay. Inside a JSON string every quote is escaped,
    so `,"` and `{"` only ever start a key. -#}
{% macro spark__json_strip_nulls(json_text) -%}
{%- set key -%}"(?:[^"\\]|\\.)*":null{%- endset -%}
regexp_replace(regexp_replace({{ json_text }}, {{ spark__text_literal(',' ~ key ~ '(?=[,}])') }}, ''), {{ spark__text_literal('\\{' ~ key ~ ',?') }}, '{')
{%- endmacro %}

{#- jsonb's text of a timestamptz in a UTC session: seconds, then the fraction without trailing zeros. -#}
{% macro spark__json_timestamp_text(expr) -%}
concat(regexp_replace(date_format({{ expr }}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"), {{ spark__text_literal('\.?0+$') }}, ''), '+00:00')
{%- endmacro %}


{#- The empty object as a JSON value ('{}'::jsonb). -#}
{% macro json_empty_object() -%}
    {{ return(adapter.dispatch('json_empty_object', 'gdp')()) }}
{%- endmacro %}

{% macro default__json_empty_object() -%}'{}'::jsonb{%- endmacro %}

{% macro spark__json_empty_object() -%}'{}'{%- endmacro %}


{#- Text to a JSON value ('...'::jsonb); Spark keeps JSON as text, so only an invalid one becomes null there. -#}
{% macro to_json_value(text_expr) -%}
    {{ return(adapter.dispatch('to_json_value', 'gdp')(text_expr)) }}
{%- endmacro %}

{% macro default__to_json_value(text_expr) -%}({{ text_expr }})::jsonb{%- endmacro %}

{% macro spark__to_json_value(text_expr) -%}
case when try_parse_json({{ text_expr }}) is not null then {{ text_expr }} end
{%- endmacro %}
