{#
  Segment plumbing. A segment is any model whose YAML carries `meta: segment:`.
  Everything below reads the dbt graph, so adding a segment is one SQL file plus
  its YAML entry: `segment` lists it, its post-hook (set for the funnel folders in
  dbt_project.yml) writes its rows into `segment_member`, and the ledger and
  activation read those two tables.
#}

{#- The segment models of the project, sorted by name (execution time only: the graph is empty while parsing). -#}
{% macro segment_nodes() %}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='name') -%}
            {%- set meta = node.config.get('meta', {}) or node.get('meta', {}) -%}
            {%- if node.resource_type == 'model' and node.package_name == project_name and meta.get('segment') -%}
                {%- do found.append(node) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{% endmacro %}


{#- meta.segment of one node, checked, with defaults filled in. Errors name the model and the field. -#}
{% macro segment_meta(node) %}
    {%- set channels = ['email', 'meta_audience', 'outbound', 'stop_sequences', 'notify_human', 'tag_objection', 'suppress', 'webhook'] -%}
    {%- set meta = (node.config.get('meta', {}) or node.get('meta', {})).get('segment') -%}
    {%- set where = 'segment ' ~ node.name ~ ' (' ~ node.original_file_path ~ '): meta.segment.' -%}
    {%- if meta.get('funnel') not in ['newsletter', 'outbound'] -%}
        {{ exceptions.raise_compiler_error(where ~ "funnel must be 'newsletter' or 'outbound', got " ~ meta.get('funnel')) }}
    {%- endif -%}
    {%- if node.fqn[-2] != meta.funnel -%}
        {{ exceptions.raise_compiler_error(where ~ "funnel is " ~ meta.funnel ~ " but the file is not under models/segments/" ~ meta.funnel ~ "/") }}
    {%- endif -%}
    {%- if not meta.get('description') -%}
        {{ exceptions.raise_compiler_error(where ~ "description is required") }}
    {%- endif -%}
    {%- set holdout = meta.get('holdout_share', 0.0) | float -%}
    {%- if holdout < 0 or holdout > 1 -%}
        {{ exceptions.raise_compiler_error(where ~ "holdout_share must be between 0 and 1") }}
    {%- endif -%}
    {%- set activations = meta.get('activations', []) -%}
    {%- if activations is string or activations is mapping -%}
        {{ exceptions.raise_compiler_error(where ~ "activations must be a list") }}
    {%- endif -%}
    {%- for activation in activations -%}
        {%- if activation is not mapping or activation.get('channel') not in channels -%}
            {{ exceptions.raise_compiler_error(where ~ "activations[" ~ loop.index0 ~ "].channel must be one of " ~ channels | join(', ')) }}
        {%- endif -%}
        {%- if activation.get('channel') == 'webhook' -%}
            {%- set index = loop.index0 -%}
            {%- for field in ['url_env', 'secret_env'] -%}
                {%- if not modules.re.match('^GDP_WEBHOOK_[A-Z0-9_]+$', activation.get(field) or '') -%}
                    {{ exceptions.raise_compiler_error(where ~ "activations[" ~ index ~ "]." ~ field ~ " must name a GDP_WEBHOOK_<NAME> variable, got " ~ activation.get(field)) }}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({
        'funnel': meta.funnel,
        'description': meta.description | trim,
        'owner': meta.get('owner', 'growth'),
        'priority': meta.get('priority', 100) | int,
        'holdout_share': holdout,
        'activations': activations,
    }) }}
{% endmacro %}


{% macro segment_sql_string(value) -%}
'{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- Rows of the `segment` model: one per segment model in the graph. -#}
{% macro segment_definitions() %}
    {%- set nodes = segment_nodes() -%}
    {%- if nodes | length == 0 %}
    select
        {{ typed_null('text') }} as segment, {{ typed_null('text') }} as funnel, {{ typed_null('text') }} as description,
        {{ typed_null('text') }} as owner, {{ typed_null('integer') }} as priority, {{ typed_null('numeric') }} as holdout_share,
        {{ typed_null('json') }} as activations, {{ typed_null('text') }} as version_hash, {{ typed_null('text') }} as relation_name,
        {{ typed_null('text') }} as model_path
    where false
    {%- else %}
    {%- for node in nodes %}
    {%- set m = segment_meta(node) %}
    select
        {{ text_literal(node.name) }} as segment,
        {{ text_literal(m.funnel) }} as funnel,
        {{ text_literal(m.description) }} as description,
        {{ text_literal(m.owner) }} as owner,
        {{ m.priority }} as priority,
        {{ cast_as(m.holdout_share, 'numeric') }} as holdout_share,
        {{ to_json_value(text_literal(tojson(m.activations))) }} as activations,
        {{ text_literal(local_md5(node.raw_code)) }} as version_hash,
        {{ text_literal(node.schema ~ '.' ~ (node.alias or node.name)) }} as relation_name,
        {{ text_literal(node.original_file_path) }} as model_path
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endif %}
{% endmacro %}


{#- Post-hook of every segment model: replace this segment's rows in `segment_member`
    (segment_member_write, macros/cross_db/persons.sql). On Postgres it runs inside the
    model's transaction, after the new table is in place, so membership switches atomically
    and a failed build keeps last cycle's rows; on Spark it overwrites the segment's partition. -#}
{% macro segment_member_sync() %}
    {%- set member = ref('segment_member') -%}
    {%- if execute -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- for required in ['person_id', 'qualified_at'] -%}
            {%- if required not in columns -%}
                {{ exceptions.raise_compiler_error('segment ' ~ model.name ~ ' must return a ' ~ required ~ ' column (it returns: ' ~ columns | join(', ') ~ ')') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
    {{ segment_member_write(member, model.name, this, adapter.get_columns_in_relation(this) if execute else []) }}
{% endmacro %}


{#- Post-hook of `segment_member`: drop rows of segments whose model no longer exists,
    so deleting a segment's SQL file exits its members in the next ledger cycle. -#}
{% macro segment_member_purge() %}
    {%- set names = [] -%}
    {%- for node in segment_nodes() -%}{%- do names.append(segment_sql_string(node.name)) -%}{%- endfor %}
    {{ segment_member_cleanup(this, names) }}
{% endmacro %}
