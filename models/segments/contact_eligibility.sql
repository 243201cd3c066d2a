{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- Who may be contacted by email, and why not. Activation reads it before every send
    and fails closed for persons missing here. The frequency caps (vars
    email_cap_per_day, email_cap_per_week) travel with each row so activation enforces
    the values configured in dbt_project.yml. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

forgotten as (
    select * from {{ ref('int_privacy__forgotten_persons') }}
),

reasons as (
    select
        person_id,
        email,
        is_bounced,
        is_complained,
        is_unsubscribed,
        case
            when is_bounced and is_complained then 'bounced_complained'
            when is_bounced then 'bounced'
            when is_complained then 'complained'
            when is_unsubscribed then 'unsubscribed'
            when email is null then 'no_email'
        end as suppression_reason
    from person_features
),

final as (
    select
        person_id,
        email,
        suppression_reason is null as is_contactable,
        suppression_reason,
        is_bounced,
        is_complained,
        is_unsubscribed,
        {{ cast_as(var('email_cap_per_day'), 'integer') }} as email_cap_per_day,
        {{ cast_as(var('email_cap_per_week'), 'integer') }} as email_cap_per_week
    from reasons
    where person_id not in (select forgotten.person_id from forgotten)
)

select * from final
