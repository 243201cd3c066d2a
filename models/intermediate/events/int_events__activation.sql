{#- Emails activation sent. They are messages (email_message), not events: the
    provider's email.sent webhook is the event, so counting both would double it. -#}
with

email_sends as (
    select * from {{ ref('stg_activation__email_sends') }}
),

final as (
    select
        {{ event_id('activation', cast_as('email_send_id', 'text')) }} as event_id,
        'activation' as source,
        'activation.email_send' as raw_table,
        {{ cast_as('email_send_id', 'text') }} as raw_key,
        email_send_id as landing_id,
        sent_at as received_at,
        sent_at as occurred_at,
        status as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('person_id', 'person_id') }} as identity_key,
        campaign_id,
        funnel,
        resend_email_id as email_id,
        {{ json_empty_object() }} as properties,
        'send log: one row per message in email_message; the Resend email.sent webhook is the event' as excluded_reason
    from email_sends
)

select * from final
