{#- Daily trend of the events the KPIs count: persons per UTC day per metric. Days
    with no event of a metric have no row. -#}
with

event as (
    select * from {{ ref('event') }}
),

metrics as (
    select * from (
        values
        ('signed_up', 'sign-ups'),
        ('activated', 'activations'),
        ('subscription_started', 'new subscriptions'),
        ('link_clicked', 'tracked-link clicks'),
        ('call_booked', 'booked calls'),
        ('deal_won', 'won deals')
    ) as m (event_type, metric)
),

final as (
    select
        (date_trunc('day', event.occurred_at at time zone 'UTC'))::date as day,
        metrics.metric,
        count(distinct event.person_id) as persons
    from event
    inner join metrics on event.event_type = metrics.event_type
    where event.person_id is not null
    group by 1, 2
)

select * from final
