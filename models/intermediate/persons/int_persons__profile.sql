{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['person_id'], 'unique': true}, {'columns': ['email']}],
) }}
{#- `person`'s rows, kept incrementally: a build recomputes only the changed persons, so a
    cycle reads their identifiers and sources, not every person. Changed: what
    macros/changed_persons.sql finds (new events, moved identifiers, the previous person of
    a merge), identifiers identity rewrote in place (a new sighting, verification,
    quarantine), Stripe customer snapshots and lead rows received and app accounts updated
    since the last build (each after its own mark, profile_since), and the forgotten
    persons. A changed person that is no person any more (merged away, forgotten) keeps a
    row with is_person false, which `person` leaves out. On Spark (parquet: no delete) a
    table rebuilt each cycle, every person. -#}
with

changed_ids as (
    {%- if is_incremental() %}
        {{ changed_persons() }}
        union
        {#- identifiers rewritten without a move (a new sighting, verification, quarantine) #}
        select resolved.person_id from {{ ref('int_identity__resolved') }} as resolved
        where resolved.written_at > {{ profile_mark('identity_written_before') }}
        union
        select link.person_id from {{ ref('stg_stripe__customers') }} as customers
        inner join {{ ref('identity_link') }} as link on link.identity_key = {{ identity_key('stripe_customer', 'customers.customer_id') }}
        where customers.received_at > {{ profile_since('customers_seen_before') }}
        union
        select link.person_id from {{ ref('stg_deals__leads') }} as leads
        inner join {{ ref('identity_link') }} as link on link.identity_key = {{ identity_key('email', 'leads.email') }}
        where leads.received_at > {{ profile_since('leads_seen_before') }}
        union
        select link.person_id from {{ ref('stg_auth__users') }} as users
        inner join {{ ref('identity_link') }} as link on link.identity_key = {{ identity_key('app_user_id', 'users.app_user_id') }}
        where users.updated_at > {{ profile_since('users_updated_before') }}
        union
        select forgotten.person_id from {{ ref('int_privacy__forgotten_persons') }} as forgotten
    {%- else %}
        select link.person_id from {{ ref('identity_link') }} as link
        where not link.is_alias
    {%- endif %}
),

changed as (
    select distinct person_id from changed_ids
    where person_id is not null
),

identity_link as (
    select link.* from {{ ref('identity_link') }} as link
    inner join changed on link.person_id = changed.person_id
    where not link.is_alias
),

event_rollup as (
    {#- first touch and event flags, per person, kept incrementally -#}
    select * from {{ ref('int_persons__event_rollup') }}
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
    select distinct person_id from {{ ref('int_privacy__forgotten_persons') }}
),

identifiers as (
    select
        person_id,
        min(first_seen_at) as first_identified_at,
        max(last_seen_at) as last_identified_at,
        {{ first_by('identifier_value', 'last_seen_at desc nulls last, identifier_value asc', "identifier_type = 'email' and is_verified") }}
            as email,
        {{ first_by('identifier_value', 'first_seen_at, identifier_value', "identifier_type = 'app_user_id'") }} as app_user_id,
        {{ first_by('identifier_value', 'last_seen_at desc nulls last, identifier_value asc', "identifier_type = 'stripe_customer'") }}
            as stripe_customer_id,
        {{ first_by('proved_by_raw_table', 'first_seen_at, identity_key') }} as first_identifier_source,
        count(*) as identifier_count,
        bool_or(is_quarantined) as is_quarantined
    from identity_link
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

person_name_candidates as (
    select
        identity_link.person_id,
        names.name,
        names.priority
    from identity_link
    inner join names on identity_link.identity_key = names.identity_key
),

person_names as (
    {{ latest_row_per_key('person_name_candidates', 'person_id', 'priority asc nulls last, name asc nulls last') }}
),

{# Phone and address, each from the most trusted source that has it: the Stripe
    customer (billing), then the app user's metadata, then the lead import; newest first. #}
contact_candidates as (
    select
        {{ identity_key('stripe_customer', 'customer_id') }} as identity_key,
        phone,
        address_country as country,
        address_city as city,
        address_state as state,
        address_postal_code as postal_code,
        1 as priority,
        event_created_at as seen_at
    from stripe_customers
    union all
    select
        {{ identity_key('app_user_id', 'app_user_id') }} as identity_key,
        phone,
        country,
        null as city,
        null as state,
        null as postal_code,
        2 as priority,
        signed_up_at as seen_at
    from app_users
    union all
    select
        {{ identity_key('email', 'email') }} as identity_key,
        phone,
        country,
        null as city,
        null as state,
        null as postal_code,
        3 as priority,
        imported_at as seen_at
    from leads
),

person_candidates as (
    select
        identity_link.person_id,
        contact_candidates.*
    from identity_link
    inner join contact_candidates on identity_link.identity_key = contact_candidates.identity_key
),

contact_values as (
    select
        person_id,
        'phone' as field,
        phone as value,
        priority,
        seen_at
    from person_candidates
    where phone is not null
    union all
    select
        person_id,
        'country' as field,
        case when {{ regexp_matches('upper(country)', '^[A-Z]{2}$') }} then upper(country) end as value,
        priority,
        seen_at
    from person_candidates
    where country is not null
    union all
    select
        person_id,
        'city' as field,
        city as value,
        priority,
        seen_at
    from person_candidates
    where city is not null
    union all
    select
        person_id,
        'state' as field,
        state as value,
        priority,
        seen_at
    from person_candidates
    where state is not null
    union all
    select
        person_id,
        'postal_code' as field,
        postal_code as value,
        priority,
        seen_at
    from person_candidates
    where postal_code is not null
),

known_contact_values as (
    select * from contact_values
    where value is not null
),

chosen_contact as (
    {#- Postgres' default null order, spelled out: Spark's differs (nulls first ascending) -#}
    {{ latest_row_per_key('known_contact_values', 'person_id, field', 'priority asc nulls last, seen_at desc nulls first') }}
),

person_contact as (
    select
        person_id,
        max(case when field = 'phone' then value end) as phone,
        max(case when field = 'country' then value end) as country,
        max(case when field = 'city' then value end) as city,
        max(case when field = 'state' then value end) as state,
        max(case when field = 'postal_code' then value end) as postal_code
    from chosen_contact
    group by person_id
),

lead_persons as (
    select distinct identity_link.person_id
    from leads
    inner join identity_link on identity_link.identity_key = {{ identity_key('email', 'leads.email') }}
),

final as (
    select
        changed.person_id,
        identifiers.email,
        person_names.name,
        identifiers.app_user_id,
        identifiers.stripe_customer_id,
        least(identifiers.first_identified_at, event_rollup.first_event_at) as first_seen_at,
        greatest(identifiers.last_identified_at, event_rollup.first_event_at) as last_identified_at,
        coalesce(event_rollup.first_touch_source, identifiers.first_identifier_source) as first_touch_source,
        event_rollup.first_touch_event_type,
        event_rollup.first_touch_campaign_id,
        event_rollup.first_funnel,
        (lead_persons.person_id is not null or coalesce(event_rollup.has_sales_touch, false)) as is_lead,
        (identifiers.app_user_id is not null or coalesce(event_rollup.has_signed_up, false)) as is_user,
        coalesce(event_rollup.has_converted, false) as is_customer,
        (identifiers.email is null and identifiers.app_user_id is null) as is_anonymous,
        identifiers.identifier_count,
        identifiers.is_quarantined,
        person_contact.phone,
        person_contact.country,
        person_contact.city,
        person_contact.state,
        person_contact.postal_code,
        (identifiers.person_id is not null and forgotten.person_id is null) as is_person,
        {{ changed_persons_marks() }},
        {{ profile_marks() }}
    from changed
    left join identifiers on changed.person_id = identifiers.person_id
    left join event_rollup on identifiers.person_id = event_rollup.person_id
    left join person_names on identifiers.person_id = person_names.person_id
    left join lead_persons on identifiers.person_id = lead_persons.person_id
    left join person_contact on identifiers.person_id = person_contact.person_id
    left join forgotten on changed.person_id = forgotten.person_id
)

select * from final
