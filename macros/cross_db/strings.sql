{#-
  Regular expressions and hashing. Patterns are given as they read (POSIX on Postgres, Java
  on Spark: the common subset); the macros write the literal each engine expects (Spark
  string literals treat a backslash as an escape, Postgres' do not).
-#}

{#- A text value as a SQL string literal of the engine. -#}
{% macro text_literal(value) -%}
    {{ return(adapter.dispatch('text_literal', 'gdp')(value)) }}
{%- endmacro %}

{% macro default__text_literal(value) -%}'{{ value | string | replace("'", "''") }}'{%- endmacro %}

{% macro spark__text_literal(value) -%}'{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'{%- endmacro %}


{% macro regex_literal(pattern) -%}{{ text_literal(pattern) }}{%- endmacro %}


{#- The first capture group of `pattern` in `expr` (Postgres substring(x from pattern)); no match -> null. -#}
{% macro regexp_extract_group(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_extract_group', 'gdp')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_extract_group(expr, pattern) -%}
substring(({{ expr }}) from {{ regex_literal(pattern) }})
{%- endmacro %}

{#- regexp_extract answers '' when nothing matches; the guard keeps that null. -#}
{% macro spark__regexp_extract_group(expr, pattern) -%}
case when ({{ expr }}) rlike {{ regex_literal(pattern) }} then regexp_extract({{ expr }}, {{ regex_literal(pattern) }}, 1) end
{%- endmacro %}


{#- Whether `pattern` matches somewhere in `expr` (Postgres ~). -#}
{% macro regexp_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches', 'gdp')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches(expr, pattern) -%}(({{ expr }}) ~ {{ regex_literal(pattern) }}){%- endmacro %}

{% macro spark__regexp_matches(expr, pattern) -%}(({{ expr }}) rlike {{ regex_literal(pattern) }}){%- endmacro %}


{#- Lowercase hex md5 of the text (Spark's md5 wants a string or binary). -#}
{% macro md5_hex(expr) -%}
    {{ return(adapter.dispatch('md5_hex', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__md5_hex(expr) -%}md5(({{ expr }})::text){%- endmacro %}

{% macro spark__md5_hex(expr) -%}md5(cast({{ expr }} as string)){%- endmacro %}


{#- Lowercase hex sha256 of the text's UTF-8 bytes. -#}
{% macro sha256_hex(expr) -%}
    {{ return(adapter.dispatch('sha256_hex', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__sha256_hex(expr) -%}encode(sha256(convert_to(({{ expr }})::text, 'UTF8')), 'hex'){%- endmacro %}

{% macro spark__sha256_hex(expr) -%}sha2(cast({{ expr }} as string), 256){%- endmacro %}


{#- A stable 60-bit integer of the text (the first 15 hex digits of its md5): the same on both
    engines, for ids that must not depend on the order rows arrive in. -#}
{% macro hash_bigint(expr) -%}
    {{ return(adapter.dispatch('hash_bigint', 'gdp')(expr)) }}
{%- endmacro %}

{% macro default__hash_bigint(expr) -%}('x' || substr(md5(({{ expr }})::text), 1, 15))::bit(60)::bigint{%- endmacro %}

{% macro spark__hash_bigint(expr) -%}cast(conv(substr(md5(cast({{ expr }} as string)), 1, 15), 16, 10) as bigint){%- endmacro %}
