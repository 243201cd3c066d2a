{#
  Identifier normalization lives here and only here: every model that reads an
  email, a PostHog distinct id, a Stripe customer or a person id passes it through
  `normalize_identifier`, so the same person never becomes two nodes because one
  source wrote `Ada@X.org ` and another `ada@x.org`.
  Placeholders (var `identity_placeholder_values`, and for emails the LIKE patterns in
  `identity_placeholder_email_patterns`) normalize to null and therefore never link.
#}

{#- The one normalization, as an expression: a call of the function below, so an
    expensive email regex runs once per value instead of once per CASE branch. -#}
{% macro normalize_identifier(identifier_type, expr) -%}
{{ target.schema }}.gdp_normalize_identifier('{{ identifier_type }}', {{ cast_as(expr, 'text') }})
{%- endmacro %}


{#- Creates that function (on-run-start, so it always carries the current vars):
    emails "Ada <Ada@X.org> " -> ada@x.org, other identifiers trimmed; placeholders,
    deny-listed values and malformed emails -> null. -#}
{% macro create_identity_functions() -%}
    {{ return(adapter.dispatch('create_identity_functions', 'gdp')()) }}
{%- endmacro %}

{% macro default__create_identity_functions() -%}
create schema if not exists {{ target.schema }};
create or replace function {{ target.schema }}.gdp_normalize_identifier(identifier_type text, value text)
returns text
language plpgsql immutable parallel safe
as $normalize$
declare
    normalized text;
begin
    if value is null then
        return null;
    end if;
    if identifier_type = 'email' then
        normalized := lower(btrim(coalesce(substring(value from '<([^<>]+)>'), value)));
    else
        normalized := btrim(value);
    end if;
    if normalized = '' or lower(normalized) = any (array[
        {%- for v in var('identity_placeholder_values') %}'{{ v | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    ]::text[]) then
        return null;
    end if;
    if identifier_type = 'email' then
        if normalized !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
            return null;
        end if;
        if normalized like any (array[
            {%- for p in var('identity_placeholder_email_patterns') %}'{{ p | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        ]::text[]) then
            return null;
        end if;
    end if;
    return normalized;
end
$normalize$;
{%- endmacro %}


{#- Spark: the same rules as SQL functions (Spark 4 SQL UDFs hold one expression each, so the
    candidate and the checks are two functions). One statement per call, as Spark runs them. -#}
{% macro spark__create_identity_functions() -%}
{%- set placeholders = var('identity_placeholder_values') -%}
{%- set patterns = var('identity_placeholder_email_patterns') -%}
{%- do run_query('create schema if not exists ' ~ target.schema) -%}
{%- set candidate -%}
create or replace function {{ target.schema }}.gdp_identifier_candidate(identifier_type string, value string)
returns string
return case
    when identifier_type = 'email' then lower(trim(coalesce({{ regexp_extract_group('value', '<([^<>]+)>') }}, value)))
    else trim(value)
end
{%- endset -%}
{%- do run_query(candidate) -%}
{%- set checked -%}
create or replace function {{ target.schema }}.gdp_identifier_checked(identifier_type string, normalized string)
returns string
return case
    when normalized is null or normalized = '' then null
    {%- if placeholders %}
    when lower(normalized) in ({% for v in placeholders %}{{ text_literal(v) }}{% if not loop.last %}, {% endif %}{% endfor %}) then null
    {%- endif %}
    when identifier_type = 'email' and not {{ regexp_matches('normalized', '^[^@\s]+@[^@\s]+\.[^@\s]+$') }} then null
    {%- if patterns %}
    when identifier_type = 'email' and normalized like any ({% for p in patterns %}{{ text_literal(p) }}{% if not loop.last %}, {% endif %}{% endfor %}) then null
    {%- endif %}
    else normalized
end
{%- endset -%}
{%- do run_query(checked) -%}
create or replace function {{ target.schema }}.gdp_normalize_identifier(identifier_type string, value string)
returns string
return {{ target.schema }}.gdp_identifier_checked(identifier_type, {{ target.schema }}.gdp_identifier_candidate(identifier_type, value))
{%- endmacro %}


{#- `type:value`, the key an event keeps so identity can be re-resolved at any time. -#}
{% macro identity_key(identifier_type, expr) -%}
('{{ identifier_type }}:' || ({{ normalize_identifier(identifier_type, expr) }}))
{%- endmacro %}


{#- A person id minted from an identifier: deterministic, so a rebuild yields the same id. -#}
{% macro derived_person_id(identity_key_expr) -%}
('p_' || left(md5({{ identity_key_expr }}), 20))
{%- endmacro %}
