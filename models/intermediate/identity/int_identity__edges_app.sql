{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- /api/identify: a star around the strongest identifier it reported. Verified when the app's
    backend called with GDP_API_TOKEN; client-asserted when a browser called with the person cookie. -#}
with

identify_calls as (
    {{ identity_edge_batch(ref('stg_app__identify_calls'), 'received_at') }}
),

identify_keys as (
    select
        identify_calls.identify_id,
        identify_calls.received_at,
        identify_calls.arrived_at,
        {{ identity_key('person_id', 'identify_calls.person_id') }} as person_key,
        {{ identity_key('email', 'email') }} as email_key,
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as distinct_key,
        {{ identity_key('app_user_id', 'app_user_id') }} as app_user_key,
        {# Only a call with the API token counts as verified. #}
        case when identify_calls.auth = 'token' then 'verified' else 'client_asserted' end as provenance
    from identify_calls
),

edges as (
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        email_key as right_key,
        provenance,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at,
        arrived_at
    from identify_keys
    union all
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        app_user_key as right_key,
        provenance,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at,
        arrived_at
    from identify_keys
    union all
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        distinct_key as right_key,
        provenance,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at,
        arrived_at
    from identify_keys
),

{{ identity_edge_fold() }}

select * from final
