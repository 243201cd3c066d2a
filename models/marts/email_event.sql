{#- What happened to each outbound email after it left: one row per Resend webhook
    about a message (sent, delivered, opened, clicked, bounced, complained, ...). The contract's
    types are Postgres names: enforced on Postgres only (the parity test checks Spark's rows). -#}
{{ config(contract={'enforced': target.type != 'spark'}) }}
with

events as (
    select * from {{ ref('event') }}
    where source = 'resend'
        and event_type in (
            'email_sent', 'email_delivered', 'email_delivery_delayed', 'email_opened', 'email_clicked',
            'email_bounced', 'email_complained', 'email_failed', 'email_suppressed', 'email_scheduled'
        )
),

final as (
    select
        event_id as email_event_id,
        email_id,
        person_id,
        event_type,
        occurred_at,
        campaign_id,
        funnel,
        {{ json_get_text('properties', ['to']) }} as to_email,
        {{ json_get_text('properties', ['link']) }} as clicked_link,
        {{ json_get_text('properties', ['bounce_type']) }} as bounce_type,
        {{ json_get('properties', ['tags']) }} as tags,
        raw_key as svix_id
    from events
)

select * from final
