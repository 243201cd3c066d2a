{{ config(
    materialized='incremental',
    unique_key='edge_key',
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['edge_key'], 'unique': true}, {'columns': ['left_key']}, {'columns': ['right_key']}],
) }}
{#- Every identifier pair some source row proves belongs to one person, plus lone
    sightings (right_key null) so an identifier seen alone still becomes a person.
    Keys are `type:value` built by the one normalization macro (normalize_identifier);
    placeholders come out null and are dropped here, so they never link anyone.
    One row per (left_key, right_key) with the first source row that proved it.
    Incremental: a cycle reads only raw rows received since the last one (minus
    var event_lookback) and folds them into the pairs already known with min / max,
    which are idempotent, so re-reading the lookback window changes nothing. -#}
{%- if is_incremental() %}
    {%- set recent %}received_at > (select coalesce(max(last_received_at), '-infinity'::timestamptz) - interval '{{ var("event_lookback") }}' from {{ this }}){% endset %}
{%- else %}
    {%- set recent = 'true' %}
{%- endif %}
with

resend as (
    select * from {{ ref('stg_resend__events') }}
    where {{ recent }}
),

email_sends as (
    select * from {{ ref('stg_activation__email_sends') }}
    where {{ recent | replace('received_at >', 'sent_at >', 1) }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
    where {{ recent }}
),

stripe_checkout_sessions as (
    select * from {{ ref('stg_stripe__checkout_sessions') }}
    where {{ recent }}
),

stripe_subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
    where {{ recent }}
),

stripe_invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
    where {{ recent }}
),

posthog as (
    select * from {{ ref('stg_posthog__events') }}
    where {{ recent }}
),

clicks as (
    select * from {{ ref('stg_tracking__clicks') }}
    where {{ recent }}
),

capi as (
    select * from {{ ref('stg_meta__capi_events') }}
    where {{ recent }}
),

identify_calls as (
    select * from {{ ref('stg_app__identify_calls') }}
    where {{ recent }}
),

app_users as (
    select * from {{ ref('stg_auth__users') }}
),

cal as (
    select * from {{ ref('stg_cal__bookings') }}
    where {{ recent }}
),

calendly as (
    select * from {{ ref('stg_calendly__invitee_events') }}
    where {{ recent }}
),

deals as (
    select * from {{ ref('stg_deals__events') }}
    where {{ recent }}
),

leads as (
    select * from {{ ref('stg_deals__leads') }}
    where {{ recent }}
),

identify_keys as (
    select
        identify_id,
        received_at,
        {{ identity_key('person_id', 'person_id') }} as person_key,
        {{ identity_key('email', 'email') }} as email_key,
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as distinct_key,
        {{ identity_key('app_user_id', 'app_user_id') }} as app_user_key
    from identify_calls
),

posthog_sightings as (
    {# pre-aggregated: page views are most of PostHog, one sighting per distinct id is enough #}
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        min(occurred_at) as seen_at,
        (array_agg(posthog_event_id order by occurred_at, posthog_event_id))[1] as raw_key
    from posthog
    group by 1
),

edges as (
    {# Resend: the tags the system put on the email tie person_id to the recipient. #}
    select
        {{ identity_key('person_id', 'tag_person_id') }} as left_key,
        {{ identity_key('email', 'to_email') }} as right_key,
        'resend_event' as raw_table,
        svix_id as raw_key,
        occurred_at as seen_at
    from resend
    where resend_object = 'email' and resend_event_type <> 'email.received'
    union all
    {# Inbound replies and contact events: the sender / contact is a sighting. #}
    select
        {{ identity_key('email', "case when resend_event_type = 'email.received' then from_email else contact_email end") }} as left_key,
        null as right_key,
        'resend_event' as raw_table,
        svix_id as raw_key,
        occurred_at as seen_at
    from resend
    where resend_event_type = 'email.received' or resend_object = 'contact'

    union all
    {# Emails the system sent: the person it addressed and the address. #}
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'activation.email_send' as raw_table,
        email_send_id::text as raw_key,
        sent_at as seen_at
    from email_sends

    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_customers
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_customers
    where metadata_person_id is not null
    union all
    {# Checkout: client_reference_id (the person id the app passed) ↔ customer and email. #}
    select
        coalesce(
            {{ identity_key('person_id', 'coalesce(client_reference_id, metadata_person_id)') }}, {{ identity_key('email', 'email') }}
        ) as left_key,
        coalesce({{ identity_key('stripe_customer', 'customer_id') }}, {{ identity_key('email', 'email') }}) as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_checkout_sessions
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_checkout_sessions
    where customer_id is not null and email is not null
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_subscriptions
    union all
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as left_key,
        {{ identity_key('email', 'customer_email') }} as right_key,
        'stripe_event' as raw_table,
        stripe_event_id as raw_key,
        event_created_at as seen_at
    from stripe_invoices

    union all
    {# PostHog: identify(personId) = distinct id is the person id, linked to the anonymous id before it. #}
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('posthog_distinct_id', 'anon_distinct_id') }} as right_key,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at
    from posthog
    where event_name = '$identify'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('person_id', 'distinct_id') }} as right_key,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at
    from posthog
    where event_name = '$identify'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('posthog_distinct_id', 'alias_distinct_id') }} as right_key,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at
    from posthog
    where event_name = '$create_alias'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at
    from posthog
    where email is not null
    union all
    {# The tracked link's redirect carries gdp_click_id to the landing page: click ↔ browser. #}
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('click_id', 'click_id') }} as right_key,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at
    from posthog
    where click_id is not null
    union all
    select
        left_key,
        null as right_key,
        'posthog_event' as raw_table,
        raw_key,
        seen_at
    from posthog_sightings

    union all
    {# Clicks: the signed token's person_id ↔ the click (and so the browser that landed). #}
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('click_id', 'click_id') }} as right_key,
        'click' as raw_table,
        click_id as raw_key,
        clicked_at as seen_at
    from clicks
    where person_id is not null

    union all
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('fbp', 'fbp') }} as right_key,
        'meta_capi_event' as raw_table,
        capi_event_id as raw_key,
        occurred_at as seen_at
    from capi
    union all
    select
        {{ identity_key('person_id', 'person_id') }} as left_key,
        {{ identity_key('fbc', 'fbc') }} as right_key,
        'meta_capi_event' as raw_table,
        capi_event_id as raw_key,
        occurred_at as seen_at
    from capi
    where fbc is not null

    union all
    {# /api/identify: a star around the strongest identifier it reported. #}
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        email_key as right_key,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at
    from identify_keys
    union all
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        app_user_key as right_key,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at
    from identify_keys
    union all
    select
        coalesce(person_key, email_key, app_user_key, distinct_key) as left_key,
        distinct_key as right_key,
        'identify_call' as raw_table,
        identify_id as raw_key,
        received_at as seen_at
    from identify_keys

    union all
    select
        {{ identity_key('app_user_id', 'app_user_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'auth.users' as raw_table,
        app_user_id as raw_key,
        signed_up_at as seen_at
    from app_users
    union all
    select
        {{ identity_key('app_user_id', 'app_user_id') }} as left_key,
        {{ identity_key('person_id', 'metadata_person_id') }} as right_key,
        'auth.users' as raw_table,
        app_user_id as raw_key,
        signed_up_at as seen_at
    from app_users
    where metadata_person_id is not null

    union all
    select
        {{ identity_key('email', 'attendee_email') }} as left_key,
        null as right_key,
        'cal_event' as raw_table,
        delivery_id as raw_key,
        occurred_at as seen_at
    from cal
    union all
    select
        {{ identity_key('email', 'invitee_email') }} as left_key,
        {{ identity_key('calendly_invitee', 'invitee_uri') }} as right_key,
        'calendly_event' as raw_table,
        delivery_id as raw_key,
        occurred_at as seen_at
    from calendly
    union all
    select
        {{ identity_key('email', 'email') }} as left_key,
        null as right_key,
        'deal_event' as raw_table,
        deal_event_id as raw_key,
        occurred_at as seen_at
    from deals
    union all
    select
        {{ identity_key('email', 'email') }} as left_key,
        null as right_key,
        'lead' as raw_table,
        raw_email as raw_key,
        imported_at as seen_at
    from leads
),

cleaned as (
    select
        coalesce(left_key, right_key) as left_key,
        case when left_key is not null and right_key <> left_key then right_key end as right_key,
        raw_table,
        raw_key,
        seen_at
    from edges
    where coalesce(left_key, right_key) is not null
),

batch_received as (
    {# the newest arrival this batch read: the next cycle's watermark #}
    select max(received_at) as received_at from (
        {%- for name in [
            'resend', 'stripe_customers', 'stripe_checkout_sessions', 'stripe_subscriptions', 'stripe_invoices', 'posthog',
            'clicks', 'capi', 'identify_calls', 'cal', 'calendly', 'deals', 'leads',
        ] %}
            select max(received_at) as received_at from {{ name }}
            union all
        {%- endfor %}
        select max(sent_at) as received_at from email_sends
    ) as maxima
),

aggregated as (
    select
        left_key || '|' || coalesce(right_key, '') as edge_key,
        left_key,
        right_key,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        (array_agg(raw_table order by seen_at, raw_table, raw_key))[1] as raw_table,
        (array_agg(raw_key order by seen_at, raw_table, raw_key))[1] as raw_key
    from cleaned
    group by left_key, right_key
),

final as (
    select
        aggregated.edge_key,
        aggregated.left_key,
        aggregated.right_key,
        {%- if is_incremental() %}
            least(aggregated.first_seen_at, known.first_seen_at) as first_seen_at,
            greatest(aggregated.last_seen_at, known.last_seen_at) as last_seen_at,
            case when known.edge_key is not null
                    and (known.first_seen_at, known.raw_table, known.raw_key)
                    <= (aggregated.first_seen_at, aggregated.raw_table, aggregated.raw_key)
                    then known.raw_table
                else aggregated.raw_table
            end as raw_table,
            case when known.edge_key is not null
                    and (known.first_seen_at, known.raw_table, known.raw_key)
                    <= (aggregated.first_seen_at, aggregated.raw_table, aggregated.raw_key)
                    then known.raw_key
                else aggregated.raw_key
            end as raw_key,
        {%- else %}
            aggregated.first_seen_at,
            aggregated.last_seen_at,
            aggregated.raw_table,
            aggregated.raw_key,
        {%- endif %}
        (select batch_received.received_at from batch_received) as last_received_at
    from aggregated
    {%- if is_incremental() %}
        left join {{ this }} as known on aggregated.edge_key = known.edge_key
    {%- endif %}
)

select * from final
