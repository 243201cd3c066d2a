{#- Clicked an outbound email or tracked outbound link in the last 14 days
    (var outbound_click_window_days), has no booked call, and no deal past
    replied_positive (stages lead, contacted, replied_positive or none).
    qualified_at = first such click in the window. -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

outbound_clicks as (
    select
        person_id,
        min(occurred_at) as first_click_at,
        count(*) as outbound_clicks
    from events
    where event_type in ('email_clicked', 'link_clicked')
        and funnel = 'outbound'
        and person_id is not null
        and occurred_at > {{ as_of() }} - interval '{{ var("outbound_click_window_days") }} days'
        and occurred_at <= {{ as_of() }}
    group by person_id
),

final as (
    select
        outbound_clicks.person_id,
        outbound_clicks.first_click_at as qualified_at,
        outbound_clicks.outbound_clicks,
        person_features.outbound_stage
    from outbound_clicks
    inner join person_features on outbound_clicks.person_id = person_features.person_id
    where not person_features.has_booked_call
        and coalesce(person_features.outbound_stage, 'lead') in ('lead', 'contacted', 'replied_positive')
)

select * from final
