{#- One row per Cal.com delivery. The first attendee is the booker. A delivery whose
    dates do not read is left out (int_capture__unreadable_rows says why). -#}
with

source as (
    select * from {{ source('cal', 'cal_event') }}
    where {{ readable_row('cal_event') }}
),

final as (
    select
        delivery_id,
        landing_id,
        received_at,
        coalesce({{ json_get_text('payload', 'triggerEvent') }}, trigger_event) as trigger_event,
        coalesce({{ try_cast_as(json_get_text('payload', 'createdAt'), 'timestamp') }}, received_at) as occurred_at,
        coalesce(
            {{ json_get_text('payload', ['payload', 'uid']) }},
            {{ json_get_text('payload', ['payload', 'bookingUid']) }},
            {{ json_get_text('payload', ['payload', 'bookingId']) }}
        ) as booking_uid,
        {{ json_get_text('payload', ['payload', 'title']) }} as title,
        {{ try_cast_as(json_get_text('payload', ['payload', 'startTime']), 'timestamp') }} as start_at,
        {{ try_cast_as(json_get_text('payload', ['payload', 'endTime']), 'timestamp') }} as end_at,
        {{ json_get_text('payload', ['payload', 'attendees', 0, 'email']) }} as attendee_email,
        {{ json_get_text('payload', ['payload', 'attendees', 0, 'name']) }} as attendee_name,
        {{ json_array_any(json_get('payload', ['payload', 'attendees']), 'attendee',
            'coalesce(' ~ try_cast_as(json_get_text('attendee', 'noShow'), 'boolean') ~ ', false)') }} as is_no_show,
        {{ json_get_text('payload', ['payload', 'organizer', 'email']) }} as organizer_email,
        {{ json_get_text('payload', ['payload', 'metadata', 'utm_campaign']) }} as utm_campaign,
        {# the page's Schedule event id (gdp.eventId()), passed to the booking as metadata[gdp_event_id] #}
        nullif(btrim({{ json_get_text('payload', ['payload', 'metadata', 'gdp_event_id']) }}), '') as gdp_event_id,
        payload
    from source
)

select * from final
