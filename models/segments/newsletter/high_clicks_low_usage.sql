{#- Signed up, clicked 3+ emails in the last 30 days (var high_clicks_min_30d) but used
    the product at most 2 times in the last 7 days (var high_clicks_low_usage_max_7d):
    interested, not getting value. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

final as (
    select
        person_id,
        coalesce(last_email_clicked_at, {{ as_of() }}) as qualified_at,
        emails_clicked_30d,
        usage_events_7d
    from person_features
    where (signup_at is not null or is_user)
        and emails_clicked_30d >= {{ var("high_clicks_min_30d") }}
        and usage_events_7d <= {{ var("high_clicks_low_usage_max_7d") }}
)

select * from final
