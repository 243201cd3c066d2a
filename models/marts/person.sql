{{ config(
    materialized='view',
    contract={'enforced': target.type != 'spark'},
) }}
{#- One row per canonical person. The rows are kept incrementally in int_persons__profile
    (only the changed persons are recomputed each cycle, indexed on person_id and email);
    this view leaves out the rows of persons that are none any more (merged away,
    forgotten). The contract's types are Postgres names; on Spark the parity test
    (tests/spark/test_persons.py) checks the rows. -#}
with

profile as (
    select * from {{ ref('int_persons__profile') }}
),

final as (
    select
        person_id,
        email,
        name,
        app_user_id,
        stripe_customer_id,
        first_seen_at,
        last_identified_at,
        first_touch_source,
        first_touch_event_type,
        first_touch_campaign_id,
        first_funnel,
        is_lead,
        is_user,
        is_customer,
        is_anonymous,
        identifier_count,
        is_quarantined,
        phone,
        country,
        city,
        state,
        postal_code
    from profile
    where is_person
)

select * from final
