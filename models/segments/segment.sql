{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- The segment definitions, generated from the dbt graph (each model with `meta: segment:`),
    so this table cannot drift from the SQL files. version_hash = md5 of the model's SQL as dbt reads it (file trimmed):
    the ledger stamps it on every transition, so a definition change shows what it caused. -#}
with

definitions as (
    {{ segment_definitions() }}
),

final as (
    select
        segment,
        funnel,
        description,
        owner,
        priority,
        holdout_share,
        activations,
        version_hash,
        relation_name,
        model_path
    from definitions
)

select * from final
