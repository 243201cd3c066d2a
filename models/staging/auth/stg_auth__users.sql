with

source as (
    select * from {{ source('auth', 'users') }}
),

final as (
    select
        id::text as app_user_id,
        email,
        created_at as signed_up_at,
        last_sign_in_at,
        coalesce(raw_user_meta_data ->> 'full_name', raw_user_meta_data ->> 'name') as user_name,
        nullif(btrim(raw_user_meta_data ->> 'person_id'), '') as metadata_person_id,
        nullif(btrim(raw_user_meta_data ->> 'phone'), '') as phone,
        nullif(btrim(raw_user_meta_data ->> 'country'), '') as country
    from source
)

select * from final
