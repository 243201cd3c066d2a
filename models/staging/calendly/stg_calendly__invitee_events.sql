{#- One row per Calendly delivery. A reschedule arrives as invitee.canceled with
    rescheduled = true plus a new invitee.created; a no-show names the invitee by uri. -#}
with

source as (
    select * from {{ source('calendly', 'calendly_event') }}
),

final as (
    select
        delivery_id,
        landing_id,
        received_at,
        coalesce(payload ->> 'event', event_type) as calendly_event_type,
        coalesce((payload ->> 'created_at')::timestamptz, received_at) as occurred_at,
        payload -> 'payload' ->> 'email' as invitee_email,
        payload -> 'payload' ->> 'name' as invitee_name,
        coalesce(
            case when payload ->> 'event' like 'invitee_no_show%' then payload -> 'payload' ->> 'invitee' end,
            payload -> 'payload' ->> 'uri'
        ) as invitee_uri,
        coalesce((payload -> 'payload' ->> 'rescheduled')::boolean, false) as is_rescheduled,
        (payload -> 'payload' -> 'scheduled_event' ->> 'start_time')::timestamptz as start_at,
        payload -> 'payload' -> 'tracking' ->> 'utm_campaign' as utm_campaign,
        payload
    from source
)

select * from final
