with

source as (
    select * from {{ source('auth', 'users') }}
),

final as (
    select
        {{ cast_as('id', 'text') }} as app_user_id,
        email,
        created_at as signed_up_at,
        last_sign_in_at,
        {#- Supabase Auth keeps it current (the local stand-in by a trigger): persons whose account changed #}
        updated_at,
        coalesce({{ json_get_text('raw_user_meta_data', 'full_name') }}, {{ json_get_text('raw_user_meta_data', 'name') }}) as user_name,
        nullif(btrim({{ json_get_text('raw_user_meta_data', 'person_id') }}), '') as metadata_person_id,
        nullif(btrim({{ json_get_text('raw_user_meta_data', 'phone') }}), '') as phone,
        nullif(btrim({{ json_get_text('raw_user_meta_data', 'country') }}), '') as country
    from source
)

select * from final
