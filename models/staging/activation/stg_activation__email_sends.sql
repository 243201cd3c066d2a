{#- One row per email activation sent. The guard keeps `dbt build` green on a
    database migrated before activation's send log existed: the model is then empty. -#}
{%- set send_log = adapter.get_relation(database=target.database, schema=var('activation_schema'), identifier='email_send') if execute else none -%}
with

{% if execute and send_log is none -%}
    source as (
        select
            {{ typed_null('bigint') }} as email_send_id,
            {{ typed_null('text') }} as outbox_key,
            {{ typed_null('text') }} as person_id,
            {{ typed_null('text') }} as email,
            {{ typed_null('text') }} as campaign_id,
            {{ typed_null('text') }} as funnel,
            {{ typed_null('text') }} as segment,
            {{ typed_null('text') }} as template,
            {{ typed_null('text') }} as subject,
            {{ typed_null('text') }} as resend_email_id,
            {{ typed_null('text') }} as status,
            {{ typed_null('text') }} as error,
            {{ typed_null('timestamp') }} as qualified_at,
            {{ typed_null('timestamp') }} as sent_at,
            {{ typed_null('json') }} as tags
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
