{#- One row per Resend webhook. Tags are read in both shapes Resend uses:
    an object {"person_id": "..."} and a list [{"name": ..., "value": ...}]. -#}
with

source as (
    select * from {{ source('resend', 'resend_event') }}
),

unpacked as (
    select
        svix_id,
        landing_id,
        received_at,
        coalesce(payload ->> 'type', event_type) as resend_event_type,
        payload -> 'data' as data,
        payload ->> 'created_at' as created_at_text,
        payload
    from source
),

tagged as (
    select
        *,
        case jsonb_typeof(data -> 'tags')
            when 'object' then data -> 'tags'
            when 'array'
                then coalesce(
                        (
                            select jsonb_object_agg(tag ->> 'name', tag -> 'value')  -- noqa: RF03
                            from jsonb_array_elements(unpacked.data -> 'tags') as tags (tag)  -- noqa: RF03
                            where jsonb_typeof(tag) = 'object' and coalesce(tag ->> 'name', '') <> ''  -- noqa: RF03
                        ),
                        '{}'::jsonb
                    )
            else '{}'::jsonb
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
            (data -> 'click' ->> 'timestamp')::timestamptz,
            created_at_text::timestamptz,
            received_at
        ) as occurred_at,
        data ->> 'email_id' as email_id,
        (data ->> 'created_at')::timestamptz as email_created_at,
        data ->> 'broadcast_id' as broadcast_id,
        data ->> 'from' as from_address,
        {{ normalize_identifier('email', "data ->> 'from'") }} as from_email,
        case jsonb_typeof(data -> 'to')
            when 'array' then data -> 'to' ->> 0
            when 'string' then data ->> 'to'
        end as to_address,
        {{ normalize_identifier('email', "case jsonb_typeof(data -> 'to') when 'array' then data -> 'to' ->> 0 when 'string' then data ->> 'to' end") }}
            as to_email,
        data ->> 'subject' as subject,
        tags,
        nullif(btrim(tags ->> 'person_id'), '') as tag_person_id,
        nullif(btrim(tags ->> 'campaign_id'), '') as campaign_id,
        nullif(btrim(tags ->> 'funnel'), '') as funnel,
        data -> 'click' ->> 'link' as click_link,
        data -> 'click' ->> 'ipAddress' as click_ip,
        data -> 'click' ->> 'userAgent' as click_user_agent,
        data -> 'bounce' ->> 'type' as bounce_type,
        data -> 'bounce' ->> 'subType' as bounce_sub_type,
        data -> 'bounce' ->> 'message' as bounce_message,
        data -> 'failed' ->> 'reason' as failed_reason,
        {# contact.* events carry the contact itself #}
        case when resend_event_type like 'contact.%' then {{ normalize_identifier('email', "data ->> 'email'") }} end as contact_email,
        case when resend_event_type like 'contact.%' then (data ->> 'unsubscribed')::boolean end as contact_is_unsubscribed,
        payload
    from tagged
)

select * from final
