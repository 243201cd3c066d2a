{#- App users (signup) and identify calls. Identify calls only prove identity. -#}
with

app_users as (
    select * from {{ ref('stg_auth__users') }}
),

identify_calls as (
    select * from {{ ref('stg_app__identify_calls') }}
),

signups as (
    select
        {{ event_id('app', 'app_user_id') }} as event_id,
        'app' as source,
        'auth.users' as raw_table,
        app_user_id as raw_key,
        {{ typed_null('bigint') }} as landing_id,
        signed_up_at as received_at,
        signed_up_at as occurred_at,
        'user_created' as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('app_user_id', 'app_user_id') }} as identity_key,
        {{ typed_null('text') }} as campaign_id,
        'newsletter' as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_empty_object() }} as properties,
        {{ typed_null('text') }} as excluded_reason
    from app_users
),

identifies as (
    select
        {{ event_id('app_identify', 'identify_id') }} as event_id,
        'app' as source,
        'identify_call' as raw_table,
        identify_id as raw_key,
        landing_id,
        received_at,
        received_at as occurred_at,
        'identify' as source_event,
        {{ typed_null('text') }} as event_type,
        {{ identity_key('person_id', 'person_id') }} as identity_key,
        {{ typed_null('text') }} as campaign_id,
        {{ typed_null('text') }} as funnel,
        {{ typed_null('text') }} as email_id,
        {{ json_empty_object() }} as properties,
        'identity only: /api/identify (feeds identity_link)' as excluded_reason
    from identify_calls
),

final as (
    select * from signups
    union all
    select * from identifies
)

select * from final
