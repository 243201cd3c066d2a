{#- Signed up, not activated 24 h later (var new_signup_grace_hours), not paying;
    only signups of the last 7 days (var new_signup_max_age_days). -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

final as (
    select
        person_id,
        signup_at + interval '{{ var("new_signup_grace_hours") }} hours' as qualified_at,
        signup_at
    from person_features
    where signup_at is not null
        and activated_at is null
        and not is_paying
        and signup_at <= {{ as_of() }} - interval '{{ var("new_signup_grace_hours") }} hours'
        and signup_at > {{ as_of() }} - interval '{{ var("new_signup_max_age_days") }} days'
)

select * from final
