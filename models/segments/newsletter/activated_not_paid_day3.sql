{#- Activated, not paying, on day 3 after signup (var activated_not_paid_day) or later,
    up to day 14 (var activated_not_paid_max_age_days). Persons with an activation but
    no signup event count from their activation. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

started as (
    select
        person_id,
        coalesce(signup_at, activated_at) as started_at,
        signup_at,
        activated_at
    from person_features
    where activated_at is not null
        and not is_paying
),

final as (
    select
        person_id,
        greatest(started_at + interval '{{ var("activated_not_paid_day") }} days', activated_at) as qualified_at,
        signup_at,
        activated_at
    from started
    where started_at <= {{ as_of() }} - interval '{{ var("activated_not_paid_day") }} days'
        and started_at > {{ as_of() }} - interval '{{ var("activated_not_paid_max_age_days") }} days'
)

select * from final
