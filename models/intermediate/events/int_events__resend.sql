{#- Resend webhooks in the shape of `event`. The person is found through the
    person_id tag when present, else through the address. -#}
with

resend as (
    select * from {{ ref('stg_resend__events') }}
),

final as (
    select
        {{ event_id('resend', 'svix_id') }} as event_id,
        'resend' as source,
        'resend_event' as raw_table,
        svix_id as raw_key,
        landing_id,
        received_at,
        occurred_at,
        case
            when resend_event_type = 'contact.updated' and contact_is_unsubscribed then 'contact.unsubscribed'
            else resend_event_type
        end as source_event,
        {{ typed_null('text') }} as event_type,
        coalesce(
            {{ identity_key('person_id', 'tag_person_id') }},
            {{ identity_key('email', "case when resend_event_type = 'email.received' then from_email when resend_object = 'contact' then contact_email else to_email end") }}
        ) as identity_key,
        campaign_id,
        funnel,
        email_id,
        {{ json_object([
            ['email_id', 'email_id'],
            ['subject', 'subject'],
            ['to', 'to_email'],
            ['from', 'from_address'],
            ['broadcast_id', 'broadcast_id'],
            ['link', 'click_link'],
            ['bounce_type', 'bounce_type'],
            ['bounce_sub_type', 'bounce_sub_type'],
            ['bounce_message', 'bounce_message'],
            ['failed_reason', 'failed_reason'],
            ['tags', 'tags', 'json'],
        ]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from resend
)

select * from final
