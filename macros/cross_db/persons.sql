{#-
  The dialect differences of the person marts, their inputs (deal, email_message) and the
  segments (issue 17): each a default__ (the Postgres form) and a spark__ implementation,
  run on both engines by tests/spark/test_cross_db_macros.py.
-#}

{#- An empty JSON array (`'[]'::jsonb`). -#}
{% macro json_empty_array() -%}
    {{ return(adapter.dispatch('json_empty_array', 'gdp')()) }}
{%- endmacro %}

{% macro default__json_empty_array() -%}'[]'::jsonb{%- endmacro %}

{% macro spark__json_empty_array() -%}'[]'{%- endmacro %}


{#- The sorted distinct non-null elements of two text arrays together (a null array counts as empty). -#}
{% macro array_merge_distinct(left_array, right_array) -%}
    {{ return(adapter.dispatch('array_merge_distinct', 'gdp')(left_array, right_array)) }}
{%- endmacro %}

{% macro default__array_merge_distinct(left_array, right_array) -%}
array(
    select distinct merged.element
    from unnest(coalesce({{ left_array }}, '{}'::text []) || coalesce({{ right_array }}, '{}'::text [])) as merged (element)
    where merged.element is not null
    order by merged.element
)
{%- endmacro %}

{% macro spark__array_merge_distinct(left_array, right_array) -%}
array_sort(array_distinct(filter(
    concat(coalesce({{ left_array }}, array()), coalesce({{ right_array }}, array())), element -> element is not null
)))
{%- endmacro %}


{#- A text array as a JSON array of strings. -#}
{% macro array_to_json(array_expr) -%}
    {{ return(adapter.dispatch('array_to_json', 'gdp')(array_expr)) }}
{%- endmacro %}

{% macro default__array_to_json(array_expr) -%}to_jsonb({{ array_expr }}){%- endmacro %}

{% macro spark__array_to_json(array_expr) -%}to_json({{ array_expr }}){%- endmacro %}


{#- A text array's elements joined by `separator`; an empty (or null) array gives null. -#}
{% macro array_join_nonempty(array_expr, separator) -%}
    {{ return(adapter.dispatch('array_join_nonempty', 'gdp')(array_expr, separator)) }}
{%- endmacro %}

{% macro default__array_join_nonempty(array_expr, separator) -%}
case when cardinality({{ array_expr }}) > 0 then array_to_string({{ array_expr }}, {{ separator }}) end
{%- endmacro %}

{% macro spark__array_join_nonempty(array_expr, separator) -%}
case when size({{ array_expr }}) > 0 then array_join({{ array_expr }}, {{ separator }}) end
{%- endmacro %}


{#- segment_member's rows of one segment: the statements of the segment model's post-hook
    (macros/segments/segments.sql `segment_member_sync`), `columns` the segment's columns
    (name, Spark / Postgres type) as the adapter reports them. -#}
{% macro segment_member_write(member, segment, relation, columns) -%}
    {{ return(adapter.dispatch('segment_member_write', 'gdp')(member, segment, relation, columns)) }}
{%- endmacro %}

{#- Postgres: delete and insert in the model's transaction, so membership switches atomically. -#}
{% macro default__segment_member_write(member, segment, relation, columns) -%}
    delete from {{ member }} where segment = {{ segment_sql_string(segment) }};
    insert into {{ member }} (segment, person_id, qualified_at, context)
    select
        {{ segment_sql_string(segment) }},
        s.person_id::text,
        s.qualified_at::timestamptz,
        to_jsonb(s) - 'person_id' - 'qualified_at'
    from {{ relation }} as s
{%- endmacro %}

{#- Spark (parquet: no delete): segment_member is partitioned by segment, and the segment's
    partition is overwritten whole (an empty segment leaves it empty). `context` is the other
    columns as a JSON object written as Postgres' to_jsonb writes them: timestamps as jsonb
    prints them in UTC, JSON text columns (spark_json_columns) as JSON, nulls left in. -#}
{% macro spark__segment_member_write(member, segment, relation, columns) -%}
    {%- set pairs = [] -%}
    {%- for column in columns if column.name | lower not in ['person_id', 'qualified_at'] -%}
        {%- set name = column.name | lower -%}
        {%- if column.dtype | lower == 'timestamp' -%}
            {%- do pairs.append("'" ~ name ~ "', " ~ spark__json_timestamp_text('s.' ~ name)) -%}
        {%- elif name in spark_json_columns() -%}
            {%- do pairs.append("'" ~ name ~ "', try_parse_json(s." ~ name ~ ")") -%}
        {%- else -%}
            {%- do pairs.append("'" ~ name ~ "', s." ~ name) -%}
        {%- endif -%}
    {%- endfor %}
    insert overwrite table {{ member }} partition (segment = {{ text_literal(segment) }})
    select
        cast(s.person_id as string) as person_id,
        cast(s.qualified_at as timestamp) as qualified_at,
        {% if pairs -%}
        to_json(named_struct({{ pairs | join(', ') }}), map('ignoreNullFields', 'false'))
        {%- else -%}
        '{}'
        {%- endif %} as context
    from {{ relation }} as s
{%- endmacro %}


{#- Columns of the marts that hold JSON text on Spark (jsonb on Postgres): a segment that
    passes one on keeps it JSON in segment_member.context. -#}
{% macro spark_json_columns() -%}
    {{ return(['objection_tags', 'tags', 'properties', 'activations', 'context']) }}
{%- endmacro %}


{#- The empty relation segment_member owns (its rows come from the segments' post-hooks). -#}
{% macro segment_member_empty() -%}
    {{ return(adapter.dispatch('segment_member_empty', 'gdp')()) }}
{%- endmacro %}

{% macro default__segment_member_empty() -%}
select
    null::text as segment,
    null::text as person_id,
    null::timestamptz as qualified_at,
    null::jsonb as context
where false
{%- endmacro %}

{#- Spark: the partition column last, as Spark keeps it. -#}
{% macro spark__segment_member_empty() -%}
select
    cast(null as string) as person_id,
    cast(null as timestamp) as qualified_at,
    cast(null as string) as context,
    cast(null as string) as segment
where false
{%- endmacro %}


{#- Post-hook of segment_member: the key, and no rows of segments whose model is gone. -#}
{% macro segment_member_cleanup(relation, names) -%}
    {{ return(adapter.dispatch('segment_member_cleanup', 'gdp')(relation, names)) }}
{%- endmacro %}

{% macro default__segment_member_cleanup(relation, names) -%}
    create unique index if not exists segment_member_pk on {{ relation }} (segment, person_id);
    delete from {{ relation }}
    {%- if names %} where segment not in ({{ names | join(', ') }}){% endif %}
{%- endmacro %}

{#- Spark: no indexes (the unique_combination test checks the key); the partitions of removed
    segments are dropped. One statement per hook, so the drops run here and the hook is a no-op. -#}
{% macro spark__segment_member_cleanup(relation, names) -%}
    {%- if execute -%}
        {%- set partitions = run_query('show partitions ' ~ relation) -%}
        {%- for row in partitions.rows -%}
            {%- set value = row[0].split('=', 1)[1] -%}
            {%- if segment_sql_string(value) not in names -%}
                {%- do run_query('alter table ' ~ relation ~ ' drop if exists partition (segment = ' ~ text_literal(value) ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
    select 1
{%- endmacro %}
