{{ config(
    tags=['clock'],
    indexes=[{'columns': ['person_id'], 'unique': true}],
    contract={'enforced': target.type != 'spark'},
) }}
{#- One row per person with what segments ask about. Windows (1/7/30 days) are
    measured back from as_of_at (var `as_of_at`, else now()). What comes from `event` is
    kept per person incrementally (int_persons__event_rollup, int_persons__event_windows:
    only changed persons and window crossings are recomputed); this table joins them with
    person and small per-person rollups of email_message, subscription and deal, so a
    cycle costs the persons, not the events. -#}
with

persons as (
    select * from {{ ref('person') }}
),

email_messages as (
    select * from {{ ref('email_message') }}
    where person_id is not null
),

subscriptions as (
    select * from {{ ref('subscription') }}
    where person_id is not null
),

deals as (
    select * from {{ ref('deal') }}
    where person_id is not null
),

as_of as (
    select {{ as_of() }} as as_of_at
),

event_rollup as (
    select
        rolled.*,
        windows.usage_events_1d,
        windows.usage_events_7d,
        windows.usage_events_30d,
        windows.pricing_views_7d,
        windows.pricing_views_30d,
        windows.offer_page_visits_7d,
        windows.offer_page_visits_30d,
        windows.link_clicks_30d
    from {{ ref('int_persons__event_rollup') }} as rolled
    left join {{ ref('int_persons__event_windows') }} as windows on rolled.person_id = windows.person_id
),

email_rollup as (
    select
        email_messages.person_id,
        count(*) filter (where not email_messages.is_dry_run and email_messages.sent_at > as_of.as_of_at - interval '30 days')
            as emails_sent_30d,
        count(*) filter (where email_messages.first_opened_at > as_of.as_of_at - interval '30 days') as emails_opened_30d,
        count(*) filter (where email_messages.first_clicked_at > as_of.as_of_at - interval '30 days') as emails_clicked_30d,
        max(email_messages.sent_at) filter (where not email_messages.is_dry_run) as last_email_sent_at,
        max(email_messages.first_clicked_at) as last_email_clicked_at,
        bool_or(email_messages.bounce_type = 'Permanent' or email_messages.bounced_at is not null) as has_bounced_message,
        bool_or(email_messages.complained_at is not null) as has_complained_message
    from email_messages
    cross join as_of
    group by email_messages.person_id
),

subscription_rollup as (
    select
        person_id,
        bool_or(is_paying) as is_paying,
        sum(mrr_cents) as mrr_cents,
        {{ first_by('plan', 'is_paying desc, mrr_cents desc, updated_at desc') }} as plan,
        {{ first_by('status', 'is_paying desc, mrr_cents desc, updated_at desc') }} as subscription_status,
        min(started_at) as first_subscribed_at
    from subscriptions
    group by person_id
),

latest_deals as (
    {#- Postgres' default null order, spelled out: Spark's differs (nulls last descending) -#}
    {{ latest_row_per_key('deals', 'person_id', 'updated_at desc nulls first, deal_id asc nulls last') }}
),

deal_rollup as (
    select
        person_id,
        deal_id,
        current_stage as outbound_stage,
        owner as deal_owner,
        objection_tags,
        objections,
        updated_at as deal_updated_at
    from latest_deals
),

final as (
    select
        persons.person_id,
        persons.email,
        persons.is_lead,
        persons.is_user,
        persons.is_customer,
        persons.is_anonymous,
        persons.first_funnel,
        persons.first_seen_at,
        greatest(event_rollup.last_seen_at, persons.last_identified_at) as last_seen_at,
        event_rollup.signup_at,
        event_rollup.activated_at,
        event_rollup.last_active_at,
        coalesce(event_rollup.usage_events_1d, 0) as usage_events_1d,
        coalesce(event_rollup.usage_events_7d, 0) as usage_events_7d,
        coalesce(event_rollup.usage_events_30d, 0) as usage_events_30d,
        coalesce(event_rollup.pricing_views_7d, 0) as pricing_views_7d,
        coalesce(event_rollup.pricing_views_30d, 0) as pricing_views_30d,
        event_rollup.last_checkout_started_at,
        event_rollup.last_checkout_completed_at,
        coalesce(subscription_rollup.is_paying, false) as is_paying,
        subscription_rollup.plan,
        subscription_rollup.subscription_status,
        coalesce(subscription_rollup.mrr_cents, 0) as mrr_cents,
        subscription_rollup.first_subscribed_at,
        coalesce(email_rollup.emails_sent_30d, 0) as emails_sent_30d,
        coalesce(email_rollup.emails_opened_30d, 0) as emails_opened_30d,
        coalesce(email_rollup.emails_clicked_30d, 0) as emails_clicked_30d,
        email_rollup.last_email_sent_at,
        email_rollup.last_email_clicked_at,
        coalesce(event_rollup.link_clicks_30d, 0) as link_clicks_30d,
        event_rollup.last_clicked_at,
        coalesce(event_rollup.is_bounced, false) or coalesce(email_rollup.has_bounced_message, false) as is_bounced,
        coalesce(event_rollup.is_complained, false) or coalesce(email_rollup.has_complained_message, false) as is_complained,
        coalesce(event_rollup.is_unsubscribed, false) as is_unsubscribed,
        coalesce(event_rollup.offer_page_visits_7d, 0) as offer_page_visits_7d,
        coalesce(event_rollup.offer_page_visits_30d, 0) as offer_page_visits_30d,
        coalesce(event_rollup.offer_page_visits_total, 0) as offer_page_visits_total,
        deal_rollup.deal_id,
        deal_rollup.outbound_stage,
        deal_rollup.deal_owner,
        coalesce(deal_rollup.objection_tags, {{ json_empty_array() }}) as objection_tags,
        deal_rollup.objections,
        event_rollup.last_replied_positive_at,
        event_rollup.last_replied_negative_at,
        event_rollup.last_email_reply_at,
        event_rollup.first_call_booked_at,
        event_rollup.last_call_booked_at,
        (
            event_rollup.last_call_booked_at is not null
            and (event_rollup.last_call_canceled_at is null or event_rollup.last_call_canceled_at < event_rollup.last_call_booked_at)
        ) or coalesce(deal_rollup.outbound_stage = 'booked', false) as has_booked_call,
        (
            event_rollup.last_no_show_at is not null
            and (event_rollup.last_call_booked_at is null or event_rollup.last_no_show_at >= event_rollup.last_call_booked_at)
        ) or coalesce(deal_rollup.outbound_stage = 'no_show', false) as is_no_show,
        event_rollup.last_no_show_at,
        event_rollup.last_meeting_ended_at,
        as_of.as_of_at
    from persons
    cross join as_of
    left join event_rollup on persons.person_id = event_rollup.person_id
    left join email_rollup on persons.person_id = email_rollup.person_id
    left join subscription_rollup on persons.person_id = subscription_rollup.person_id
    left join deal_rollup on persons.person_id = deal_rollup.person_id
)

select * from final
