{#- What activation did, per segment, channel and template: how many actions ended
    sent, dry-run, deferred, suppressed, held-out, ... and the reason given. -#}
{{ config(materialized='view') }}  {#- a view: the ledger and outbox move after the cycle's dbt build -#}
with

outbox as (
    select * from {{ ref('stg_activation__outbox') }}
),

final as (
    select
        coalesce(segment, '(conversion events)') as segment,
        channel,
        coalesce(template, '') as template,
        outcome,
        coalesce(reason, '') as reason,
        count(*) as actions
    from outbox
    group by 1, 2, 3, 4, 5
)

select * from final
