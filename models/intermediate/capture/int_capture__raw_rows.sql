{#- Every raw row of every source, by (raw_table, raw_key): the denominator of
    "100 % of touches captured". -#}
{%- set tables = capture_tables() %}
with

{% for raw_table, model, key, received, settled_by in tables -%}
    {{ model }} as (
        select
            '{{ raw_table }}' as raw_table,
            {{ key }} as raw_key,
            {{ received }}
        from {{ ref(model) }}
    ),
{% endfor %}

final as (
    {%- for raw_table, model, key, received, settled_by in tables %}
        select * from {{ model }}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
)

select * from final
