{#-
  "The first / latest row per key", the forms Postgres writes with `distinct on` and
  `(array_agg(x order by ...))[1]`.
-#}

{#- A whole select: one row per `partition_by` of `relation` (a ref, a CTE name), the first
    by `order_by` (e.g. 'updated_at desc, landing_id desc'). -#}
{% macro latest_row_per_key(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('latest_row_per_key', 'gdp')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__latest_row_per_key(relation, partition_by, order_by) -%}
select distinct on ({{ partition_by }}) * from {{ relation }} order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

{% macro spark__latest_row_per_key(relation, partition_by, order_by) -%}
select * from {{ relation }} qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}


{#- One ordering key of an `order by` list: (expression, descending?, nulls first?) with
    Postgres' defaults (nulls last ascending, first descending). Keys hold no commas. -#}
{% macro order_keys(order_by) -%}
    {%- set keys = [] -%}
    {%- for part in (order_by.split(',') if order_by is string else order_by) -%}
        {%- set words = part.strip().split() -%}
        {%- set lowered = words | map('lower') | list -%}
        {%- set descending = 'desc' in lowered -%}
        {%- set nulls_first = descending -%}
        {%- if 'nulls' in lowered -%}{%- set nulls_first = lowered[lowered.index('nulls') + 1] == 'first' -%}{%- endif -%}
        {#- the expression is the words before the first ordering keyword (no `break`: sqlfluff's jinja lacks it) -#}
        {%- set ns = namespace(expr=[], done=false) -%}
        {%- for word in words -%}
            {%- if word | lower in ['asc', 'desc', 'nulls', 'first', 'last'] -%}{%- set ns.done = true -%}{%- endif -%}
            {%- if not ns.done -%}{%- set ns.expr = ns.expr + [word] -%}{%- endif -%}
        {%- endfor -%}
        {%- do keys.append({'expr': ns.expr | join(' '), 'descending': descending, 'nulls_first': nulls_first}) -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}


{#- Aggregate: `value` of the first row of the group by `order_by`, among rows where `where` holds.
    Null values count (as with array_agg); no row gives null. -#}
{% macro first_by(value, order_by, where=none) -%}
    {{ return(adapter.dispatch('first_by', 'gdp')(value, order_by, where)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by, where=none) -%}
(array_agg({{ value }} order by {{ order_by if order_by is string else order_by | join(', ') }}){% if where %} filter (where {{ where }}){% endif %})[1]
{%- endmacro %}

{% macro spark__first_by(value, order_by, where=none) -%}
try_element_at({{ spark_sorted_structs(value, order_by, where) }}, 1).v
{%- endmacro %}

{#- Spark: the group's (v = value, k0.. = order keys) structs as one array, sorted by a comparator
    that follows Postgres' ordering (desc, nulls first/last); rows failing `where` are left out.
    first_by and json_agg_top read `.v` of its first element(s). -#}
{% macro spark_sorted_structs(value, order_by, where=none) -%}
{%- set keys = order_keys(order_by) -%}
array_sort(
    collect_list({% if where %}case when {{ where }} then {% endif %}named_struct('v', {{ value }}{% for key in keys %}, 'k{{ loop.index0 }}', {{ key.expr }}{% endfor %}){% if where %} end{% endif %}),
    (l, r) -> case
        {%- for key in keys %}
        {%- set k = 'k' ~ loop.index0 %}
        when l.{{ k }} is null and r.{{ k }} is not null then {{ -1 if key.nulls_first else 1 }}
        when l.{{ k }} is not null and r.{{ k }} is null then {{ 1 if key.nulls_first else -1 }}
        when l.{{ k }} < r.{{ k }} then {{ 1 if key.descending else -1 }}
        when l.{{ k }} > r.{{ k }} then {{ -1 if key.descending else 1 }}
        {%- endfor %}
        else 0
    end
)
{%- endmacro %}
