{#- Deterministic event id: the same raw row always yields the same id. -#}
{% macro event_id(source_name, raw_key_expr, suffix=none) -%}
md5('{{ source_name }}:' || ({{ raw_key_expr }}){% if suffix %} || ':{{ suffix }}'{% endif %})
{%- endmacro %}


{#- Stripe sends unix seconds; everything here is timestamptz (UTC). -#}
{% macro from_unix(expr) -%}
to_timestamp(nullif(({{ expr }}), '')::double precision)
{%- endmacro %}


{#- A Stripe reference may arrive as an id string or an expanded object. -#}
{% macro stripe_ref(json_expr, field) -%}
case jsonb_typeof({{ json_expr }} -> '{{ field }}')
    when 'string' then {{ json_expr }} ->> '{{ field }}'
    when 'object' then {{ json_expr }} -> '{{ field }}' ->> 'id'
end
{%- endmacro %}


{#- Recurring amount to a monthly figure in cents (a year is 12 months, a week 52/12). -#}
{% macro monthly_cents(amount_cents, interval, interval_count) -%}
round(
    ({{ amount_cents }})::numeric
    * case {{ interval }}
        when 'month' then 1.0
        when 'year' then 1.0 / 12
        when 'week' then 52.0 / 12
        when 'day' then 365.0 / 12
      end
    / greatest(coalesce(({{ interval_count }})::numeric, 1), 1)
)::bigint
{%- endmacro %}


{#- The instant relative windows are measured from: var `as_of_at`, or now(). -#}
{% macro as_of() -%}
{%- if var('as_of_at') -%}('{{ var("as_of_at") }}'::timestamptz){%- else -%}now(){%- endif -%}
{%- endmacro %}
