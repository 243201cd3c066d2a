{#
  Connected components by min-label propagation with pointer jumping, unrolled
  into a fixed number of passes (var `identity_label_passes`).

  Each node starts with its own node_id as label. One pass:
    1. propagate: label(n) = min(label(n), label(m) for every neighbour m)
    2. jump:      label(n) = label(label(n))   (the label is a node of the same
                  component, so adopting its label is safe and halves distances)
  A chain whose minimum is d hops away converges in about log2(d) passes, so 8
  passes cover chains far longer than real identity graphs (a person has a
  handful of identifiers); the data test `assert_identity_components_converged`
  fails the build if a graph ever needs more, and the var raises the count.

  Cost: every pass is one hash join of the directed edge list (2E rows) with the
  label set (N rows), one aggregate over N + 2E rows and one self-join of N rows:
  O(passes x (N + E)), linear in the graph, no recursion, no per-row loops.
  Postgres materializes each pass (referenced twice), so memory is O(N + E).
#}
{% macro label_propagation(nodes_cte, edges_cte, passes) -%}
labels_0 as (
    select node_id, node_id as label from {{ nodes_cte }}
),
{%- for i in range(1, passes + 1) %}
propagated_{{ i }} as (
    select node_id, min(label) as label
    from (
        select node_id, label from labels_{{ i - 1 }}
        union all
        select edges.src_node_id as node_id, labels.label
        from {{ edges_cte }} as edges
        inner join labels_{{ i - 1 }} as labels on labels.node_id = edges.dst_node_id
    ) as candidates
    group by node_id
),
labels_{{ i }} as (
    select propagated.node_id, least(propagated.label, pointed.label) as label
    from propagated_{{ i }} as propagated
    inner join propagated_{{ i }} as pointed on pointed.node_id = propagated.label
){% if not loop.last %},{% endif %}
{%- endfor %}
{%- endmacro %}

{% macro label_propagation_result(passes) -%}labels_{{ passes }}{%- endmacro %}
