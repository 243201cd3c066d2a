{{ config(indexes=[{'columns': ['person_id'], 'unique': true}, {'columns': ['email']}]) }}
{#- One row per canonical person (identity_link's non-alias rows). -#}
with

identity_link as (
    select * from {{ ref('identity_link') }}
    where not is_alias
),

events as (
    select * from {{ ref('event') }}
    where person_id is not null
),

leads as (
    select * from {{ ref('stg_deals__leads') }}
),

app_users as (
    select * from {{ ref('stg_auth__users') }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

forgotten as (
    select * from {{ ref('int_privacy__forgotten_persons') }}
),

identifiers as (
    select
        person_id,
        min(first_seen_at) as first_identified_at,
        max(last_seen_at) as last_identified_at,
        (array_agg(identifier_value order by last_seen_at desc nulls last, identifier_value asc) filter (where identifier_type = 'email'))[
            1
        ] as email,
        (array_agg(identifier_value order by first_seen_at, identifier_value) filter (where identifier_type = 'app_user_id'))[1]
            as app_user_id,
        (
            array_agg(identifier_value order by last_seen_at desc nulls last, identifier_value asc) filter (
                where identifier_type = 'stripe_customer'
            )
        )[1] as stripe_customer_id,
        (array_agg(proved_by_raw_table order by first_seen_at, identity_key))[1] as first_identifier_source,
        count(*) as identifier_count,
        bool_or(is_quarantined) as is_quarantined
    from identity_link
    group by person_id
),

first_touch as (
    select distinct on (person_id)
        person_id,
        occurred_at as first_event_at,
        source as first_touch_source,
        event_type as first_touch_event_type,
        campaign_id as first_touch_campaign_id
    from events
    order by person_id, occurred_at, event_id
),

event_flags as (
    select
        person_id,
        bool_or(event_type = 'signed_up') as has_signed_up,
        bool_or(event_type in ('checkout_completed', 'purchased', 'subscription_started', 'payment_succeeded', 'deal_won'))
            as has_converted,
        bool_or(source in ('lead', 'deal')) as has_sales_touch,
        (array_agg(funnel order by occurred_at) filter (where funnel is not null))[1] as first_funnel
    from events
    group by person_id
),

names as (
    select
        identity_key,
        name,
        priority
    from (
        select
            {{ identity_key('app_user_id', 'app_user_id') }} as identity_key,
            user_name as name,
            1 as priority
        from app_users
        union all
        select
            {{ identity_key('stripe_customer', 'customer_id') }},
            customer_name as name,
            2 as priority
        from stripe_customers
        union all
        select
            {{ identity_key('email', 'email') }},
            lead_name as name,
            3 as priority
        from leads
    ) as candidates
    where name is not null
),

person_names as (
    select distinct on (identity_link.person_id)
        identity_link.person_id,
        names.name
    from identity_link
    inner join names on identity_link.identity_key = names.identity_key
    order by identity_link.person_id, names.priority, names.name
),

lead_persons as (
    select distinct identity_link.person_id
    from leads
    inner join identity_link on identity_link.identity_key = {{ identity_key('email', 'leads.email') }}
),

final as (
    select
        identifiers.person_id,
        identifiers.email,
        person_names.name,
        identifiers.app_user_id,
        identifiers.stripe_customer_id,
        least(identifiers.first_identified_at, first_touch.first_event_at) as first_seen_at,
        greatest(identifiers.last_identified_at, first_touch.first_event_at) as last_identified_at,
        coalesce(first_touch.first_touch_source, identifiers.first_identifier_source) as first_touch_source,
        first_touch.first_touch_event_type,
        first_touch.first_touch_campaign_id,
        event_flags.first_funnel,
        (lead_persons.person_id is not null or coalesce(event_flags.has_sales_touch, false)) as is_lead,
        (identifiers.app_user_id is not null or coalesce(event_flags.has_signed_up, false)) as is_user,
        coalesce(event_flags.has_converted, false) as is_customer,
        (identifiers.email is null and identifiers.app_user_id is null) as is_anonymous,
        identifiers.identifier_count,
        identifiers.is_quarantined
    from identifiers
    left join first_touch on identifiers.person_id = first_touch.person_id
    left join event_flags on identifiers.person_id = event_flags.person_id
    left join person_names on identifiers.person_id = person_names.person_id
    left join lead_persons on identifiers.person_id = lead_persons.person_id
    where identifiers.person_id not in (select forgotten.person_id from forgotten)
)

select * from final
