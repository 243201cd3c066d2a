{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'), incremental_strategy='append',
    pre_hook=["{{ identity_forget_region('identity_key') }}"],
    indexes=[{'columns': ['node_id'], 'unique': true}, {'columns': ['identity_key'], 'unique': true},
             {'columns': ['verified_component_id']}, {'columns': ['graph_id']}, {'columns': ['written_at']}],
) }}
{#- Connected components over verified edges only (signed webhooks, the API token, operator
    imports, auth.users, activation's own sends): what the system itself can vouch for.
    Components by label propagation with contraction (macros/label_propagation.sql
    connected_components). verified_component_id = the node_id of the component's oldest identifier
    (identity_age_order). A component is identified when it holds an identifying identifier
    (person id, email, app user, Stripe customer, Calendly invitee); client-asserted edges are
    judged against these components in int_identity__client_edges.
    graph_id: the raw component, verified components tied by any client-asserted edge or a
    standing claim (person_id:v, posthog_distinct_id:v), named by its smallest
    verified_component_id; the unit an incremental run recomputes (macros/identity_graph.sql).
    On Spark a table rebuilt whole (parquet has no delete); each propagation's input CTEs are
    passed as `inputs` so Spark can materialize its passes (macros/label_propagation.sql). -#}
{#- sqlfluff reads the set blocks' SQL as if nested: their indentation is the model's own. -#}
-- noqa: disable=LT02
{%- set inputs -%}
with

{%- if is_incremental() %}

    region as (
        {{ identity_region() }}
    ),
{%- endif %}

nodes as (
    select * from {{ ref('int_identity__nodes') }}
    {%- if is_incremental() %}
        where identity_key in (select region.identity_key from region)
    {%- endif %}
),

edges as (
    select * from {{ ref('int_identity__edges') }}
    where right_key is not null
        {%- if is_incremental() %}
            and left_key in (select region.identity_key from region)
        {%- endif %}
),

pairs as (
    select distinct
        {{ hash_bigint('edges.left_key') }} as a,
        {{ hash_bigint('edges.right_key') }} as b
    from edges
    where edges.provenance = 'verified'
),

directed as (
    select
        a as src_node_id,
        b as dst_node_id
    from pairs
    union
    select
        b,
        a
    from pairs
),

linked_nodes as (
    select distinct src_node_id as node_id from directed
)
{%- endset %}
{%- set graph_inputs -%}
{{ inputs }},

{{ connected_components('linked_nodes', 'directed', var('identity_label_passes'), prefix='verified_', inputs=inputs) }},

labelled as (
    select
        nodes.node_id,
        nodes.identity_key,
        nodes.identifier_type,
        nodes.first_seen_at,
        coalesce(labels.label, nodes.node_id) as label,
        {{ is_identifying_type('nodes.identifier_type') }} as is_identifying
    from nodes
    left join verified_components as labels on nodes.node_id = labels.node_id
),

components as (
    select
        labelled.node_id,
        labelled.identity_key,
        first_value(labelled.node_id) over (partition by labelled.label order by {{ identity_age_order('labelled') }}) as verified_component_id,
        bool_or(labelled.is_identifying) over (partition by labelled.label) as is_identified
    from labelled
),

{# The raw components: verified components tied by client-asserted edges of any verdict and by standing claims. #}
component_pairs as (
    select distinct
        left_side.verified_component_id as a,
        right_side.verified_component_id as b
    from edges
    inner join components as left_side on edges.left_key = left_side.identity_key
    inner join components as right_side on edges.right_key = right_side.identity_key
    where edges.provenance = 'client_asserted' and left_side.verified_component_id <> right_side.verified_component_id
    union
    select
        person.verified_component_id as a,
        browser.verified_component_id as b
    from components as browser
    inner join components as person
        on person.identity_key = 'person_id:' || substr(browser.identity_key, length('posthog_distinct_id:') + 1)
    where browser.identity_key like 'posthog\_distinct\_id:%' and person.verified_component_id <> browser.verified_component_id
),

component_directed as (
    select
        a as src_node_id,
        b as dst_node_id
    from component_pairs
    union
    select
        b,
        a
    from component_pairs
),

linked_components as (
    select distinct src_node_id as node_id from component_directed
)
{%- endset %}
{{ graph_inputs }},

{{ connected_components('linked_components', 'component_directed', var('identity_label_passes'), prefix='graph_', inputs=graph_inputs) }},
-- noqa: enable=LT02

final as (
    select
        components.node_id,
        components.identity_key,
        components.verified_component_id,
        components.is_identified,
        coalesce(graphs.label, components.verified_component_id) as graph_id,
        {{ identity_written_at() }} as written_at
    from components
    left join graph_components as graphs
        on components.verified_component_id = graphs.node_id
)

select * from final
