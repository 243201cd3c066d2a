{#- One row per email activation sent. The guard keeps `dbt build` green on a
    database migrated before activation's send log existed: the model is then empty. -#}
{%- set send_log = adapter.get_relation(database=target.database, schema=var('activation_schema'), identifier='email_send') if execute else none -%}
with

{% if execute and send_log is none -%}
    source as (
        select
            null::bigint as email_send_id,
            null::text as outbox_key,
            null::text as person_id,
            null::text as email,
            null::text as campaign_id,
            null::text as funnel,
            null::text as segment,
            null::text as template,
            null::text as subject,
            null::text as resend_email_id,
            null::text as status,
            null::text as error,
            null::timestamptz as qualified_at,
            null::timestamptz as sent_at,
            null::jsonb as tags
        where false
    ),
{%- else -%}
    source as (
        select * from {{ source('activation', 'email_send') }}
    ),
{%- endif %}

final as (
    select
        email_send_id,
        outbox_key,
        nullif(btrim(person_id), '') as person_id,
        {{ normalize_identifier('email', 'email') }} as email,
        campaign_id,
        funnel,
        segment,
        template,
        subject,
        nullif(resend_email_id, '') as resend_email_id,
        status,
        error,
        qualified_at,
        sent_at,
        tags
    from source
)

select * from final
