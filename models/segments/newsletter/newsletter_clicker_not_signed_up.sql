{#- Clicked a newsletter email or tracked newsletter link in the last 30 days
    (var newsletter_click_window_days) and has no app account (no signup, not a user). -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

newsletter_clicks as (
    select
        person_id,
        min(occurred_at) as first_click_at,
        count(*) as newsletter_clicks
    from events
    where event_type in ('email_clicked', 'link_clicked')
        and funnel = 'newsletter'
        and person_id is not null
        and occurred_at > {{ as_of() }} - interval '{{ var("newsletter_click_window_days") }} days'
        and occurred_at <= {{ as_of() }}
    group by person_id
),

final as (
    select
        newsletter_clicks.person_id,
        newsletter_clicks.first_click_at as qualified_at,
        newsletter_clicks.newsletter_clicks
    from newsletter_clicks
    inner join person_features on newsletter_clicks.person_id = person_features.person_id
    where person_features.signup_at is null
        and not person_features.is_user
)

select * from final
