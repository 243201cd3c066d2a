{#- Cal.com and Calendly in the shape of `event`. -#}
with

cal as (
    select * from {{ ref('stg_cal__bookings') }}
),

calendly as (
    select * from {{ ref('stg_calendly__invitee_events') }}
),

cal_events as (
    select
        {{ event_id('cal', 'delivery_id') }} as event_id,
        'cal' as source,
        'cal_event' as raw_table,
        delivery_id as raw_key,
        landing_id,
        received_at,
        occurred_at,
        trigger_event as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('email', 'attendee_email') }} as identity_key,
        utm_campaign as campaign_id,
        'outbound' as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([
            ['booking_uid', 'booking_uid'], ['title', 'title'], ['start_at', 'start_at', 'timestamp'], ['end_at', 'end_at', 'timestamp'],
            ['is_no_show', 'is_no_show'], ['gdp_event_id', 'gdp_event_id'],
        ]) }} as properties,
        case when trigger_event = 'BOOKING_NO_SHOW_UPDATED' and not is_no_show then 'no-show flag cleared' end as excluded_reason
    from cal
),

calendly_events as (
    select
        {{ event_id('calendly', 'delivery_id') }} as event_id,
        'calendly' as source,
        'calendly_event' as raw_table,
        delivery_id as raw_key,
        landing_id,
        received_at,
        occurred_at,
        case
            when calendly_event_type = 'invitee.canceled' and is_rescheduled then 'invitee.rescheduled'
            else calendly_event_type
        end as source_event,
        {{ typed_null('text') }} as event_type,
        coalesce({{ identity_key('email', 'invitee_email') }}, {{ identity_key('calendly_invitee', 'invitee_uri') }}) as identity_key,
        utm_campaign as campaign_id,
        'outbound' as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_object([['invitee_uri', 'invitee_uri'], ['start_at', 'start_at', 'timestamp']]) }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from calendly
),

final as (
    select * from cal_events
    union all
    select * from calendly_events
)

select * from final
