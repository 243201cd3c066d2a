{#- One row per Calendly delivery. A reschedule arrives as invitee.canceled with
    rescheduled = true plus a new invitee.created; a no-show names the invitee by uri. -#}
with

source as (
    select * from {{ source('calendly', 'calendly_event') }}
    where {{ readable_row('calendly_event') }}
),

final as (
    select
        delivery_id,
        landing_id,
        received_at,
        coalesce({{ json_get_text('payload', 'event') }}, event_type) as calendly_event_type,
        coalesce({{ try_cast_as(json_get_text('payload', 'created_at'), 'timestamp') }}, received_at) as occurred_at,
        {{ json_get_text('payload', ['payload', 'email']) }} as invitee_email,
        {{ json_get_text('payload', ['payload', 'name']) }} as invitee_name,
        coalesce(
            case when {{ json_get_text('payload', 'event') }} like 'invitee_no_show%' then {{ json_get_text('payload', ['payload', 'invitee']) }} end,
            {{ json_get_text('payload', ['payload', 'uri']) }}
        ) as invitee_uri,
        coalesce({{ try_cast_as(json_get_text('payload', ['payload', 'rescheduled']), 'boolean') }}, false) as is_rescheduled,
        {{ try_cast_as(json_get_text('payload', ['payload', 'scheduled_event', 'start_time']), 'timestamp') }} as start_at,
        {{ json_get_text('payload', ['payload', 'tracking', 'utm_campaign']) }} as utm_campaign,
        payload
    from source
)

select * from final
