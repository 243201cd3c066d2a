{#- One row per Resend webhook. Tags are read in both shapes Resend uses:
    an object {"person_id": "..."} and a list [{"name": ..., "value": ...}]. -#}
{%- set to_address = 'case ' ~ json_typeof('data', 'to') ~ " when 'array' then " ~ json_get_text('data', ['to', 0])
    ~ " when 'string' then " ~ json_get_text('data', 'to') ~ ' end' -%}
with

source as (
    select * from {{ source('resend', 'resend_event') }}
    where {{ readable_row('resend_event') }}
),

unpacked as (
    select
        svix_id,
        landing_id,
        received_at,
        coalesce({{ json_get_text('payload', 'type') }}, event_type) as resend_event_type,
        {{ json_get('payload', 'data') }} as data,
        {{ json_get_text('payload', 'created_at') }} as created_at_text,
        payload
    from source
),

tagged as (
    select
        *,
        case {{ json_typeof('data', 'tags') }}
            when 'object' then {{ json_get('data', 'tags') }}
            when 'array' then {{ json_name_value_object(json_get('data', 'tags')) }}
            else {{ json_empty_object() }}
        end as tags
    from unpacked
),

final as (
    select
        svix_id,
        landing_id,
        received_at,
        resend_event_type,
        split_part(resend_event_type, '.', 1) as resend_object,
        coalesce(
            {{ try_cast_as(json_get_text('data', ['click', 'timestamp']), 'timestamp') }},
            {{ try_cast_as('created_at_text', 'timestamp') }},
            received_at
        ) as occurred_at,
        {{ json_get_text('data', 'email_id') }} as email_id,
        {{ try_cast_as(json_get_text('data', 'created_at'), 'timestamp') }} as email_created_at,
        {{ json_get_text('data', 'broadcast_id') }} as broadcast_id,
        {{ json_get_text('data', 'from') }} as from_address,
        {{ normalize_identifier('email', json_get_text('data', 'from')) }} as from_email,
        {{ to_address }} as to_address,
        {{ normalize_identifier('email', to_address) }} as to_email,
        {{ json_get_text('data', 'subject') }} as subject,
        tags,
        nullif(btrim({{ json_get_text('tags', 'person_id') }}), '') as tag_person_id,
        nullif(btrim({{ json_get_text('tags', 'campaign_id') }}), '') as campaign_id,
        nullif(btrim({{ json_get_text('tags', 'funnel') }}), '') as funnel,
        {{ json_get_text('data', ['click', 'link']) }} as click_link,
        {{ json_get_text('data', ['click', 'ipAddress']) }} as click_ip,
        {{ json_get_text('data', ['click', 'userAgent']) }} as click_user_agent,
        {{ json_get_text('data', ['bounce', 'type']) }} as bounce_type,
        {{ json_get_text('data', ['bounce', 'subType']) }} as bounce_sub_type,
        {{ json_get_text('data', ['bounce', 'message']) }} as bounce_message,
        {{ json_get_text('data', ['failed', 'reason']) }} as failed_reason,
        {# contact.* events carry the contact itself #}
        case when resend_event_type like 'contact.%' then {{ normalize_identifier('email', json_get_text('data', 'email')) }} end as contact_email,
        case when resend_event_type like 'contact.%' then {{ try_cast_as(json_get_text('data', 'unsubscribed'), 'boolean') }} end as contact_is_unsubscribed,
        payload
    from tagged
)

select * from final
