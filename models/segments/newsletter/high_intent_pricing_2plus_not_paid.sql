{#- Viewed pricing 2+ times (var pricing_views_min) in the last 7 days
    (var pricing_window_days) and is not paying. Qualifies at the view that
    reached the threshold. -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

pricing_views as (
    select
        person_id,
        occurred_at,
        row_number() over (partition by person_id order by occurred_at, event_id) as view_number,
        count(*) over (partition by person_id) as pricing_views
    from events
    where event_type = 'pricing_viewed'
        and person_id is not null
        and occurred_at > {{ as_of() }} - interval '{{ var("pricing_window_days") }} days'
        and occurred_at <= {{ as_of() }}
),

final as (
    select
        pricing_views.person_id,
        pricing_views.occurred_at as qualified_at,
        pricing_views.pricing_views
    from pricing_views
    inner join person_features on pricing_views.person_id = person_features.person_id
    where pricing_views.view_number = {{ var("pricing_views_min") }}
        and not person_features.is_paying
)

select * from final
