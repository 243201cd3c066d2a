with

source as (
    select * from {{ source('meta', 'meta_capi_event') }}
    where {{ readable_row('meta_capi_event') }}
),

final as (
    select
        event_id as capi_event_id,
        landing_id,
        received_at,
        event_name,
        event_time as occurred_at,
        event_source_url,
        action_source,
        nullif(btrim(person_id), '') as person_id,
        nullif(btrim(fbp), '') as fbp,
        nullif(btrim(fbc), '') as fbc,
        client_ip,
        client_user_agent,
        custom_data,
        {{ try_cast_as(json_get_text('custom_data', 'value'), 'numeric') }} as value,
        lower({{ json_get_text('custom_data', 'currency') }}) as currency
    from source
)

select * from final
