{#- Deterministic event id: the same raw row always yields the same id. -#}
{% macro event_id(source_name, raw_key_expr, suffix=none) -%}
md5('{{ source_name }}:' || ({{ raw_key_expr }}){% if suffix %} || ':{{ suffix }}'{% endif %})
{%- endmacro %}


{#- Stripe sends unix seconds; everything here is timestamptz (UTC). -#}
{% macro from_unix(expr) -%}
{{ epoch_to_timestamp(expr) }}
{%- endmacro %}


{#- A Stripe reference may arrive as an id string or an expanded object; `path` is the
    reference's JSON path in `json_expr` (['data', 'object', 'customer'], or one key). -#}
{% macro stripe_ref(json_expr, path) -%}
{%- set path = json_path_keys(path) -%}
case {{ json_typeof(json_expr, path) }}
    when 'string' then {{ json_get_text(json_expr, path) }}
    when 'object' then {{ json_get_text(json_expr, path + ['id']) }}
end
{%- endmacro %}


{#- Recurring amount to a monthly figure in cents (a year is 12 months, a week 52/12). -#}
{% macro monthly_cents(amount_cents, interval, interval_count) -%}
{%- set monthly -%}
round(
    {{ cast_as(amount_cents, 'numeric') }}
    * case {{ interval }}
        when 'month' then 1.0
        when 'year' then 1.0 / 12
        when 'week' then 52.0 / 12
        when 'day' then 365.0 / 12
      end
    / greatest(coalesce({{ cast_as(interval_count, 'numeric') }}, 1), 1)
)
{%- endset -%}
{{ cast_as(monthly, 'bigint') }}
{%- endmacro %}


{#- The instant relative windows are measured from: var `as_of_at`, or now(). -#}
{% macro as_of() -%}
{%- if var('as_of_at') -%}({{ cast_as(text_literal(var('as_of_at')), 'timestamp') }}){%- else -%}now(){%- endif -%}
{%- endmacro %}
