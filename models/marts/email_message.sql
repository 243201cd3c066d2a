{#- One row per email: every send activation logged (dry-runs included) and every
    message Resend reported, joined on the Resend email id, with its tags and what
    happened to it. -#}
{{ config(contract={'enforced': target.type != 'spark'}) }}
with

email_sends as (
    select * from {{ ref('stg_activation__email_sends') }}
),

email_events as (
    select * from {{ ref('email_event') }}
),

identity_link as (
    select
        identity_key,
        person_id
    from {{ ref('identity_link') }}
),

webhook_messages as (
    select
        email_id,
        {{ first_by('person_id', 'occurred_at', "person_id is not null") }} as person_id,
        {{ first_by('to_email', 'occurred_at', "to_email is not null") }} as to_email,
        {{ first_by('campaign_id', 'occurred_at', "campaign_id is not null") }} as campaign_id,
        {{ first_by('funnel', 'occurred_at', "funnel is not null") }} as funnel,
        {{ first_by('tags', 'occurred_at', 'tags is not null and tags <> ' ~ json_empty_object()) }} as tags,
        min(occurred_at) as first_event_at,
        min(occurred_at) filter (where event_type = 'email_sent') as sent_at,
        min(occurred_at) filter (where event_type = 'email_delivered') as delivered_at,
        min(occurred_at) filter (where event_type = 'email_opened') as first_opened_at,
        count(*) filter (where event_type = 'email_opened') as open_count,
        min(occurred_at) filter (where event_type = 'email_clicked') as first_clicked_at,
        count(*) filter (where event_type = 'email_clicked') as click_count,
        min(occurred_at) filter (where event_type = 'email_bounced') as bounced_at,
        {{ first_by('bounce_type', 'occurred_at', "event_type = 'email_bounced'") }} as bounce_type,
        min(occurred_at) filter (where event_type = 'email_complained') as complained_at,
        min(occurred_at) filter (where event_type in ('email_failed', 'email_suppressed')) as failed_at
    from email_events
    where email_id is not null
    group by email_id
),

sends as (
    select
        email_sends.*,
        identity_link.person_id as canonical_person_id
    from email_sends
    left join identity_link on identity_link.identity_key = {{ identity_key('person_id', 'email_sends.person_id') }}
),

joined as (
    select
        coalesce(webhook_messages.email_id, 'send:' || sends.email_send_id) as email_message_id,
        coalesce(sends.resend_email_id, webhook_messages.email_id) as resend_email_id,
        sends.email_send_id,
        coalesce(webhook_messages.person_id, sends.canonical_person_id, sends.person_id) as person_id,
        coalesce(sends.email, webhook_messages.to_email) as to_email,
        sends.subject,
        coalesce(sends.campaign_id, webhook_messages.campaign_id) as campaign_id,
        coalesce(sends.funnel, webhook_messages.funnel) as funnel,
        sends.segment,
        sends.template,
        coalesce(sends.tags, webhook_messages.tags, {{ json_empty_object() }}) as tags,
        sends.status as send_status,
        coalesce(sends.status = 'dry_run', false) as is_dry_run,
        sends.outbox_key,
        coalesce(sends.sent_at, webhook_messages.sent_at, webhook_messages.first_event_at) as sent_at,
        webhook_messages.delivered_at,
        webhook_messages.first_opened_at,
        coalesce(webhook_messages.open_count, 0) as open_count,
        webhook_messages.first_clicked_at,
        coalesce(webhook_messages.click_count, 0) as click_count,
        webhook_messages.bounced_at,
        webhook_messages.bounce_type,
        webhook_messages.complained_at,
        webhook_messages.failed_at
    from sends
    full outer join webhook_messages on sends.resend_email_id = webhook_messages.email_id
),

final as (
    select
        *,
        case
            when complained_at is not null then 'complained'
            when bounced_at is not null then 'bounced'
            when first_clicked_at is not null then 'clicked'
            when first_opened_at is not null then 'opened'
            when delivered_at is not null then 'delivered'
            when failed_at is not null or send_status = 'failed' then 'failed'
            when send_status = 'dry_run' then 'dry_run'
            else 'sent'
        end as latest_status
    from joined
)

select * from final
