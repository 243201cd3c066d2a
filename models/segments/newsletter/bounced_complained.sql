{#- Any email to the person bounced, or the person marked one as spam. Suppressed from
    every sequence and email (contact_eligibility says the same for sends). -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

events as (
    select * from {{ ref('event') }}
),

first_problem as (
    select
        person_id,
        min(occurred_at) as first_problem_at
    from events
    where event_type in ('email_bounced', 'email_complained')
        and person_id is not null
    group by person_id
),

final as (
    select
        person_features.person_id,
        coalesce(first_problem.first_problem_at, {{ as_of() }}) as qualified_at,
        person_features.is_bounced,
        person_features.is_complained
    from person_features
    left join first_problem on person_features.person_id = first_problem.person_id
    where person_features.is_bounced or person_features.is_complained
)

select * from final
