{#- One row per Cal.com delivery. The first attendee is the booker. -#}
with

source as (
    select * from {{ source('cal', 'cal_event') }}
),

final as (
    select
        delivery_id,
        landing_id,
        received_at,
        coalesce(payload ->> 'triggerEvent', trigger_event) as trigger_event,
        coalesce((payload ->> 'createdAt')::timestamptz, received_at) as occurred_at,
        coalesce(payload -> 'payload' ->> 'uid', payload -> 'payload' ->> 'bookingUid', payload -> 'payload' ->> 'bookingId')
            as booking_uid,
        payload -> 'payload' ->> 'title' as title,
        (payload -> 'payload' ->> 'startTime')::timestamptz as start_at,
        (payload -> 'payload' ->> 'endTime')::timestamptz as end_at,
        payload -> 'payload' -> 'attendees' -> 0 ->> 'email' as attendee_email,
        payload -> 'payload' -> 'attendees' -> 0 ->> 'name' as attendee_name,
        coalesce(
            (
                select bool_or(coalesce((attendee ->> 'noShow')::boolean, false))  -- noqa: RF03
                from jsonb_array_elements(
                        case
                            when jsonb_typeof(source.payload -> 'payload' -> 'attendees') = 'array' then source.payload -> 'payload' -> 'attendees' else  -- noqa: RF03
                                '[]'::jsonb
                        end
                    ) as attendees (attendee)
            ),
            false
        ) as is_no_show,
        payload -> 'payload' -> 'organizer' ->> 'email' as organizer_email,
        payload -> 'payload' -> 'metadata' ->> 'utm_campaign' as utm_campaign,
        {# the page's Schedule event id (gdp.eventId()), passed to the booking as metadata[gdp_event_id] #}
        nullif(btrim(payload -> 'payload' -> 'metadata' ->> 'gdp_event_id'), '') as gdp_event_id,
        payload
    from source
)

select * from final
