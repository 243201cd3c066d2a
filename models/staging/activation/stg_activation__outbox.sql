{#- One row per outbox action. Statuses are read by name and any status this model
    does not know passes through as itself, so a status activation adds later still
    shows up in the report. The guard keeps `dbt build` green on a database migrated
    before the outbox existed: the model is then empty. -#}
{%- set outbox = adapter.get_relation(database=target.database, schema=var('activation_schema'), identifier='outbox') if execute else none -%}
with

{% if execute and outbox is none -%}
    source as (
        select
            null::bigint as outbox_id,
            null::text as segment,
            null::text as person_id,
            null::text as transition,
            null::text as channel,
            null::integer as step,
            '{}'::jsonb as action,
            null::text as status,
            null::text as error,
            null::text as cycle_id,
            null::timestamptz as qualified_at,
            null::timestamptz as created_at,
            null::timestamptz as sent_at
        where false
    ),
{%- else -%}
    source as (
        select * from {{ source('activation_outbox', 'outbox') }}
    ),
{%- endif %}

final as (
    select
        outbox_id,
        segment,
        person_id,
        transition,
        channel,
        step,
        action ->> 'template' as template,
        status,
        case
            when status = 'sent' then 'sent'
            when status in ('dry_run', 'preview') then 'dry-run'
            when status in ('deferred', 'skipped_cap') then 'deferred'
            when status = 'skipped_suppressed' then 'suppressed'
            when status = 'holdout' then 'held-out'
            when status = 'held' then 'held for approval'
            when status in ('failed', 'dead') then 'failed'
            when status = 'pending' then 'pending'
            else status
        end as outcome,
        nullif(btrim(regexp_replace(error, '\s*\(.*\)\s*$', '')), '') as reason,
        cycle_id,
        qualified_at,
        created_at,
        sent_at
    from source
)

select * from final
