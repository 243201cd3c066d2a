{#
  Identifier normalization lives here and only here: every model that reads an
  email, a PostHog distinct id, a Stripe customer or a person id passes it through
  `normalize_identifier`, so the same person never becomes two nodes because one
  source wrote `Ada@X.org ` and another `ada@x.org`.
  Placeholders (var `identity_placeholder_values`, and for emails the LIKE patterns in
  `identity_placeholder_email_patterns`) normalize to null and therefore never link.
#}

{% macro normalize_identifier(identifier_type, expr) -%}
{%- set placeholders = var('identity_placeholder_values') -%}
{%- if identifier_type == 'email' -%}
    {#- "Ada <Ada@X.org>" -> ada@x.org -#}
    {%- set n -%}lower(btrim(coalesce(substring(({{ expr }})::text from '<([^<>]+)>'), ({{ expr }})::text))){%- endset -%}
{%- else -%}
    {%- set n -%}btrim(({{ expr }})::text){%- endset -%}
{%- endif -%}
case
    when {{ n }} = '' then null
    when lower({{ n }}) in ({% for v in placeholders %}'{{ v | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %}) then null
{%- if identifier_type == 'email' %}
    when {{ n }} !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then null
{%- for pattern in var('identity_placeholder_email_patterns') %}
    when {{ n }} like '{{ pattern | replace("'", "''") }}' then null
{%- endfor %}
{%- endif %}
    else {{ n }}
end
{%- endmacro %}


{#- `type:value`, the key an event keeps so identity can be re-resolved at any time. -#}
{% macro identity_key(identifier_type, expr) -%}
('{{ identifier_type }}:' || ({{ normalize_identifier(identifier_type, expr) }}))
{%- endmacro %}


{#- A person id minted from an identifier: deterministic, so a rebuild yields the same id. -#}
{% macro derived_person_id(identity_key_expr) -%}
('p_' || left(md5({{ identity_key_expr }}), 20))
{%- endmacro %}
