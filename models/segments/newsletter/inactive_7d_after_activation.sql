{#- Activated, and no product activity for 7 days (var inactive_after_activation_days);
    leaves after 30 inactive days (var inactive_max_days) or on any new activity. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

last_activity as (
    select
        person_id,
        activated_at,
        greatest(last_active_at, activated_at) as last_active_at
    from person_features
    where activated_at is not null
),

final as (
    select
        person_id,
        last_active_at + interval '{{ var("inactive_after_activation_days") }} days' as qualified_at,
        activated_at,
        last_active_at
    from last_activity
    where last_active_at <= {{ as_of() }} - interval '{{ var("inactive_after_activation_days") }} days'
        and last_active_at > {{ as_of() }} - interval '{{ var("inactive_max_days") }} days'
)

select * from final
