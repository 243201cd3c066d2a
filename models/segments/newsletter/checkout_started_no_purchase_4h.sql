{#- Started checkout 4 h ago or more (var checkout_abandon_hours), within the last
    7 days (var checkout_abandon_max_age_days), completed no checkout since and is
    not paying. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

final as (
    select
        person_id,
        last_checkout_started_at + interval '{{ var("checkout_abandon_hours") }} hours' as qualified_at,
        last_checkout_started_at
    from person_features
    where last_checkout_started_at is not null
        and (last_checkout_completed_at is null or last_checkout_completed_at < last_checkout_started_at)
        and not is_paying
        and last_checkout_started_at <= {{ as_of() }} - interval '{{ var("checkout_abandon_hours") }} hours'
        and last_checkout_started_at > {{ as_of() }} - interval '{{ var("checkout_abandon_max_age_days") }} days'
)

select * from final
