{#- Who activation may reach, and how: one row per person with the address to use,
    the names templates greet with, and the email and ads permissions. A view, so a
    send always sees the eligibility dbt built last, never a copy of it.

    Email: contact_eligibility's verdict, and only with an address.
    Ads: a person who said no (complained, unsubscribed) is not retargeted either;
    a bounced address alone does not stop ads. -#}
with

forgotten as (
    select * from {{ ref('int_privacy__forgotten_persons') }}
),

person as (
    select * from {{ ref('person') }}
    where person_id not in (select forgotten.person_id from forgotten)
),

contact_eligibility as (
    select * from {{ ref('contact_eligibility') }}
),

names as (
    select
        person_id,
        nullif(btrim(regexp_replace(name, '\s+', ' ', 'g')), '') as display_name,
        initcap((regexp_match(name, '\S+'))[1]) as first_name
    from person
),

final as (
    select
        person.person_id,
        contact_eligibility.email,
        names.display_name,
        names.first_name,
        coalesce(contact_eligibility.is_contactable, false)
        and contact_eligibility.email is not null as is_emailable,
        case
            when contact_eligibility.person_id is null then 'unknown_person'
            when contact_eligibility.suppression_reason is not null then contact_eligibility.suppression_reason
            when contact_eligibility.email is null then 'no_email'
        end as email_suppression_reason,
        ad_block.reason is null and contact_eligibility.person_id is not null as is_ad_targetable,
        case
            when contact_eligibility.person_id is null then 'unknown_person'
            else ad_block.reason
        end as ad_suppression_reason,
        contact_eligibility.email_cap_per_day,
        contact_eligibility.email_cap_per_week
    from person
    inner join names on person.person_id = names.person_id
    left join contact_eligibility on person.person_id = contact_eligibility.person_id
    cross join lateral (
        select
            case
                when contact_eligibility.suppression_reason in ('complained', 'unsubscribed', 'bounced_complained')
                    then contact_eligibility.suppression_reason
                when contact_eligibility.is_complained then 'complained'
                when contact_eligibility.is_unsubscribed then 'unsubscribed'
            end as reason
    ) as ad_block
)

select * from final
