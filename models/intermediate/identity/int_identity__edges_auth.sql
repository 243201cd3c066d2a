{{ config(materialized='table') }}
{#- Supabase auth.users (verified: the app's own accounts) ↔ email and the person id in its metadata.
    Read whole each cycle (users have no arrival time). -#}
with

app_users as (
    select * from {{ ref('stg_auth__users') }}
),

edges as (
    select
        {{ identity_key('app_user_id', 'app_user_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'verified' as provenance,
        'auth.users' as raw_table,
        app_user_id as raw_key,
        signed_up_at as seen_at,
        {{ typed_null('timestamp') }} as arrived_at
    from app_users
    union all
    select
        {{ identity_key('app_user_id', 'app_user_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'verified' as provenance,
        'auth.users' as raw_table,
        app_user_id as raw_key,
        signed_up_at as seen_at,
        {{ typed_null('timestamp') }} as arrived_at
    from app_users
    where metadata_person_id is not null
),

{{ identity_edge_fold() }}

select * from final
