{#- One row per outbox action. Statuses are read by name and any status this model
    does not know passes through as itself, so a status activation adds later still
    shows up in the report. The guard keeps `dbt build` green on a database migrated
    before the outbox existed: the model is then empty. -#}
{%- set outbox = adapter.get_relation(database=target.database, schema=var('activation_schema'), identifier='outbox') if execute else none -%}
with

{% if execute and outbox is none -%}
    source as (
        select
            {{ typed_null('bigint') }} as outbox_id,
            {{ typed_null('text') }} as segment,
            {{ typed_null('text') }} as person_id,
            {{ typed_null('text') }} as transition,
            {{ typed_null('text') }} as channel,
            {{ typed_null('integer') }} as step,
            {{ json_empty_object() }} as action,
            {{ typed_null('text') }} as status,
            {{ typed_null('text') }} as error,
            {{ typed_null('text') }} as cycle_id,
            {{ typed_null('timestamp') }} as qualified_at,
            {{ typed_null('timestamp') }} as created_at,
            {{ typed_null('timestamp') }} as sent_at
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
        {{ json_get_text('action', ['template']) }} as template,
        status,
        case
            {# enrolling in a sequence and tagging a deal reach no provider: not sends #}
            when status = 'sent' and channel = 'outbound' then 'enrolled'
            when status = 'sent' and channel = 'tag_objection' then 'tagged'
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
        nullif(btrim(regexp_replace(error, {{ regex_literal('\s*\(.*\)\s*$') }}, '')), '') as reason,
        cycle_id,
        qualified_at,
        created_at,
        sent_at
    from source
)

select * from final
