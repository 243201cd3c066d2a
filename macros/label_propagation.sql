{#
  Connected components by min-label propagation with hooking and pointer jumping
  (the Shiloach-Vishkin idea in set operations), unrolled into a fixed number of
  passes (var `identity_label_passes`).

  Each node starts with its own node_id as label. One pass, from labels L:
    1. propagate: P(n) = min(L(n), L(m) for every neighbour m)
    2. hook:      a label's node (a "root") takes the smallest P of the nodes that
                  pointed at it: H(r) = min(P(r), P(n) for n with L(n) = r), so a
                  whole group moves at once instead of one hop per pass
    3. jump:      L'(n) = min(H(n), H(H(n)), H(L(n)))
  Labels are always nodes of the same component and only decrease; at the fixed
  point every edge joins equal labels, i.e. each node holds its component's
  minimum node_id. Hooking + jumping need O(log n) passes on chains and stars
  (simulated: a path of 1,000 identifiers converges in 9-10 passes, 10,000 in 12-14),
  and identity graphs are
  tiny components, so the default of 8 passes converges with room to spare; the
  data test `assert_identity_components_converged` fails the build if a graph
  ever needs more, and the var raises the count.

  Cost: a pass is one hash join of the directed edge list (2E rows) with the
  labels (N rows), two aggregates and four hash joins over N rows:
  O(passes x (N + E)) time, O(N + E) memory per materialized pass, no recursion.
#}
{#- inputs: the `with ...` text that defines nodes_cte and edges_cte (what the model writes before
    the call); Spark needs it to materialize them (spark__label_propagation below). -#}
{% macro label_propagation(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
    {{ return(adapter.dispatch('label_propagation', 'gdp')(nodes_cte, edges_cte, passes, prefix, inputs)) }}
{%- endmacro %}

{% macro default__label_propagation(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
{#- int(1): sqlfluff renders var() as a placeholder string; dbt always passes an integer.
    prefix: names the CTEs, so one query can hold two propagations. -#}
{%- set passes = passes | int(1) %}
{%- set p = prefix %}
{{ p }}labels_0 as (
    select node_id, node_id as label from {{ nodes_cte }}
),
{%- for i in range(1, passes + 1) %}
{{ p }}propagated_{{ i }} as (
    select node_id, min(label) as label
    from (
        select node_id, label from {{ p }}labels_{{ i - 1 }}
        union all
        select edges.src_node_id as node_id, labels.label
        from {{ edges_cte }} as edges
        inner join {{ p }}labels_{{ i - 1 }} as labels on labels.node_id = edges.dst_node_id
    ) as candidates
    group by node_id
),
{{ p }}hooked_{{ i }} as (
    select node_id, min(label) as label
    from (
        select node_id, label from {{ p }}propagated_{{ i }}
        union all
        select previous.label as node_id, propagated.label
        from {{ p }}labels_{{ i - 1 }} as previous
        inner join {{ p }}propagated_{{ i }} as propagated on propagated.node_id = previous.node_id
        where previous.label <> previous.node_id
    ) as candidates
    group by node_id
),
{{ p }}labels_{{ i }} as (
    select
        hooked.node_id,
        least(hooked.label, pointed.label, old_root.label) as label
    from {{ p }}hooked_{{ i }} as hooked
    inner join {{ p }}labels_{{ i - 1 }} as previous on previous.node_id = hooked.node_id
    inner join {{ p }}hooked_{{ i }} as pointed on pointed.node_id = hooked.label
    inner join {{ p }}hooked_{{ i }} as old_root on old_root.node_id = previous.label
){% if not loop.last %},{% endif %}
{%- endfor %}
{%- endmacro %}

{% macro label_propagation_result(passes, prefix='') -%}{{ prefix }}labels_{{ passes | int(1) }}{%- endmacro %}


{#
  Connected components with contraction: `rounds` rounds of `passes` label-propagation
  passes (above), each round on the graph the previous one left: its vertices are the
  previous labels, its edges the edges whose two ends still carry different labels. A
  component that converged drops out, so a round costs what is still unresolved instead of
  the whole graph (identity components are small: after the first round little is left).
  The minimum node of a component keeps its own id as label through every round, so the
  final label is still the component's smallest node_id. `{prefix}components` holds
  (node_id, label) for every node of `nodes_cte`. `passes` (var identity_label_passes) is
  spent two a round: the second pass of a round hooks whole groups (above).
#}
{% macro connected_components(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
    {{ return(adapter.dispatch('connected_components', 'gdp')(nodes_cte, edges_cte, passes, prefix, inputs)) }}
{%- endmacro %}

{% macro default__connected_components(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
{%- set rounds = [(passes | int(2)) // 2, 1] | max %}
{%- set passes = 2 %}
{%- for r in range(1, rounds + 1) %}
{%- set round = prefix ~ 'round' ~ r ~ '_' %}
{%- if r > 1 %}
{{ round }}edges as (
    select distinct
        src_labels.label as src_node_id,
        dst_labels.label as dst_node_id
    from {{ prefix }}round{{ r - 1 }}_edges as edges
    inner join {{ label_propagation_result(passes, prefix=prefix ~ 'round' ~ (r - 1) ~ '_') }} as src_labels
        on edges.src_node_id = src_labels.node_id
    inner join {{ label_propagation_result(passes, prefix=prefix ~ 'round' ~ (r - 1) ~ '_') }} as dst_labels
        on edges.dst_node_id = dst_labels.node_id
    where src_labels.label <> dst_labels.label
),
{{ round }}nodes as (
    select distinct src_node_id as node_id from {{ round }}edges
),
{%- else %}
{{ round }}edges as (
    select * from {{ edges_cte }}
),
{{ round }}nodes as (
    select node_id from {{ nodes_cte }}
),
{%- endif %}
{{ label_propagation(round ~ 'nodes', round ~ 'edges', passes, prefix=round) }},
{%- endfor %}
{{ prefix }}components as (
    select
        nodes.node_id,
        coalesce({% for r in range(rounds, 0, -1) %}round{{ r }}.label, {% endfor %}nodes.node_id) as label
    from {{ nodes_cte }} as nodes
    {%- for r in range(1, rounds + 1) %}
    left join {{ label_propagation_result(passes, prefix=prefix ~ 'round' ~ r ~ '_') }} as round{{ r }}
        on round{{ r }}.node_id = coalesce({% for q in range(r - 1, 0, -1) %}round{{ q }}.label, {% endfor %}nodes.node_id)
    {%- endfor %}
)
{%- endmacro %}



{#
  Spark. A CTE read more than once is inlined at every read, so the unrolled passes above grow
  exponentially there (three passes took minutes on six nodes). Spark instead materializes the
  propagation: the nodes and directed edges (written by `inputs`, the model's CTEs up to the
  call) into parquet tables next to the model (`<model>__<prefix>graph_*`), then one table per
  pass (the same propagate / hook / jump step as above) until no label changes. At that fixed
  point every node holds its component's smallest node_id, which is what the Postgres passes
  give once converged (the data test assert_identity_components_converged checks they did), so
  both engines name the same components. The passes run when the model runs (run / build);
  `dbt compile` only prints the select of the result table.
#}
{% macro spark__label_propagation(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
{{ prefix }}labels_{{ passes | int(1) }} as (
    select node_id, label from {{ spark_propagated_labels(nodes_cte, edges_cte, prefix, inputs) }}
)
{%- endmacro %}

{% macro spark__connected_components(nodes_cte, edges_cte, passes, prefix='', inputs=none) -%}
{{ prefix }}components as (
    select node_id, label from {{ spark_propagated_labels(nodes_cte, edges_cte, prefix, inputs) }}
)
{%- endmacro %}

{#- Runs the passes (at most var identity_spark_max_passes, default 64: chains of 10,000 converge in
    under 15) and returns the relation holding (node_id, label). -#}
{% macro spark_propagated_labels(nodes_cte, edges_cte, prefix, inputs) -%}
{%- set base = this.schema ~ '.' ~ this.identifier ~ '__' ~ prefix ~ 'graph' -%}
{%- set ns = namespace(current=base ~ '_a', other=base ~ '_b', done=false, passes=0) -%}
{%- if execute and flags.WHICH in ['run', 'build'] -%}
    {%- set edges = base ~ '_edges' -%}
    {%- do run_query('drop table if exists ' ~ edges) -%}
    {%- do run_query('create table ' ~ edges ~ ' using parquet as ' ~ inputs ~ ' select src_node_id, dst_node_id from ' ~ edges_cte) -%}
    {%- do run_query('drop table if exists ' ~ ns.current) -%}
    {%- do run_query('create table ' ~ ns.current ~ ' using parquet as ' ~ inputs ~ ' select node_id, node_id as label from ' ~ nodes_cte) -%}
    {%- for i in range(var('identity_spark_max_passes') | int) -%}
        {%- if not ns.done -%}
            {%- set step -%}
create table {{ ns.other }} using parquet as
with
propagated as (
    select node_id, min(label) as label
    from (
        select node_id, label from {{ ns.current }}
        union all
        select edges.src_node_id as node_id, labels.label
        from {{ edges }} as edges
        inner join {{ ns.current }} as labels on labels.node_id = edges.dst_node_id
    ) as candidates
    group by node_id
),
hooked as (
    select node_id, min(label) as label
    from (
        select node_id, label from propagated
        union all
        select previous.label as node_id, propagated.label
        from {{ ns.current }} as previous
        inner join propagated on propagated.node_id = previous.node_id
        where previous.label <> previous.node_id
    ) as candidates
    group by node_id
)
select
    hooked.node_id,
    least(hooked.label, pointed.label, old_root.label) as label
from hooked
inner join {{ ns.current }} as previous on previous.node_id = hooked.node_id
inner join hooked as pointed on pointed.node_id = hooked.label
inner join hooked as old_root on old_root.node_id = previous.label
            {%- endset -%}
            {%- do run_query('drop table if exists ' ~ ns.other) -%}
            {%- do run_query(step) -%}
            {%- set changed = run_query(
                'select count(*) from ' ~ ns.other ~ ' as next inner join ' ~ ns.current
                ~ ' as previous on next.node_id = previous.node_id where next.label <> previous.label'
            ).columns[0].values()[0] -%}
            {%- set swap = ns.current -%}
            {%- set ns.current = ns.other -%}
            {%- set ns.other = swap -%}
            {%- set ns.passes = ns.passes + 1 -%}
            {%- set ns.done = changed == 0 -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not ns.done -%}
        {{ exceptions.raise_compiler_error(this.identifier ~ ': label propagation did not converge in ' ~ ns.passes ~ ' passes; raise var identity_spark_max_passes') }}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ ns.other) -%}
    {%- do run_query('drop table if exists ' ~ edges) -%}
    {%- do log(this.identifier ~ ': ' ~ prefix ~ 'label propagation converged in ' ~ ns.passes ~ ' passes', info=false) -%}
{%- endif -%}
{{ ns.current }}
{%- endmacro %}
