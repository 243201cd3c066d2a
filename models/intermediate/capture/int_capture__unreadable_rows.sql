{#- Raw rows staging leaves out because a field it casts does not read as its type
    (macros/staging_casts.sql): one row per row and field, with the reason. A build never
    fails on such a row; capture_completeness counts it as excluded. -#}
{%- set selects = [] -%}
{%- for raw_table, spec in staging_casts().items() -%}
    {%- set key = cast_as(spec.key, 'text') -%}
    {%- set relation = source(spec.source[0], spec.source[1]) -%}
    {%- for field, expr, type in spec.checks -%}
        {%- do selects.append("select '" ~ raw_table ~ "' as raw_table, " ~ key ~ " as raw_key, '" ~ field ~ "' as field, '"
            ~ unreadable_reason(type) ~ ": ' || left(" ~ expr ~ ", 60) as reason, received_at from " ~ relation
            ~ " where not " ~ is_readable(expr, type)) -%}
    {%- endfor -%}
    {%- for field, array_expr, expr, type in spec.get('each', []) -%}
        {%- do selects.append("select '" ~ raw_table ~ "' as raw_table, " ~ key ~ " as raw_key, '" ~ field ~ "' as field, '"
            ~ unreadable_reason(type) ~ " in an element' as reason, received_at from " ~ relation
            ~ " where " ~ json_array_any(array_expr, 'gdp_element', 'not ' ~ is_readable(expr, type))) -%}
    {%- endfor -%}
{%- endfor -%}
with

unreadable as (
    {{ selects | join('\n    union all\n    ') }}
),

final as (
    select
        raw_table,
        raw_key,
        field,
        reason,
        received_at
    from unreadable
)

select * from final
