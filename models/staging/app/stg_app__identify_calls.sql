with

source as (
    select * from {{ source('app', 'identify_call') }}
),

final as (
    select
        identify_id,
        landing_id,
        received_at,
        nullif(btrim(person_id), '') as person_id,
        email,
        nullif(btrim(distinct_id), '') as distinct_id,
        nullif(btrim(app_user_id), '') as app_user_id,
        {{ json_get_text('payload', 'auth') }} as auth
    from source
)

select * from final
