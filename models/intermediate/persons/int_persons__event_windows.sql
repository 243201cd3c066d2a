{%- set crossings = [
    (['feature_used', 'activated'], 1), (['feature_used', 'activated'], 7), (['feature_used', 'activated'], 30),
    (['pricing_viewed', 'offer_page_viewed'], 7), (['pricing_viewed', 'offer_page_viewed', 'link_clicked'], 30),
] -%}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='person_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tags=['clock'],
    indexes=[{'columns': ['person_id'], 'unique': true}],
) }}
{#- Per person, the event counts of person_features' 1/7/30-day windows, measured back from
    as_of_at (var `as_of_at`, else now()). Incremental: a build recomputes the changed persons
    (macros/changed_persons.sql) and those with an event that left a window since the last
    build's as_of (computed_as_of_at), found on event's (event_type, occurred_at) index, so
    a cycle with nothing new and the clock moved reads the window edges, not every person.
    An event counts from its occurred_at on with no upper bound, so the clock moving forward
    only ever takes events out. On Spark (parquet: no delete) a table rebuilt each cycle. -#}
with

changed as (
    {{ changed_persons(crossings) }}
),

events as (
    select events.*
    from {{ ref('event') }} as events
    inner join changed on events.person_id = changed.person_id
),

as_of as (
    select {{ as_of() }} as as_of_at
),

final as (
    select
        changed.person_id,
        count(*) filter (
            where events.event_type in ('feature_used', 'activated') and events.occurred_at > as_of.as_of_at - interval '1 day'
        ) as usage_events_1d,
        count(*) filter (
            where events.event_type in ('feature_used', 'activated') and events.occurred_at > as_of.as_of_at - interval '7 days'
        ) as usage_events_7d,
        count(*) filter (
            where events.event_type in ('feature_used', 'activated') and events.occurred_at > as_of.as_of_at - interval '30 days'
        ) as usage_events_30d,
        count(*) filter (where events.event_type = 'pricing_viewed' and events.occurred_at > as_of.as_of_at - interval '7 days')
            as pricing_views_7d,
        count(*) filter (where events.event_type = 'pricing_viewed' and events.occurred_at > as_of.as_of_at - interval '30 days')
            as pricing_views_30d,
        count(*) filter (where events.event_type = 'offer_page_viewed' and events.occurred_at > as_of.as_of_at - interval '7 days')
            as offer_page_visits_7d,
        count(*) filter (where events.event_type = 'offer_page_viewed' and events.occurred_at > as_of.as_of_at - interval '30 days')
            as offer_page_visits_30d,
        count(*) filter (where events.event_type = 'link_clicked' and events.occurred_at > as_of.as_of_at - interval '30 days')
            as link_clicks_30d,
        as_of.as_of_at as computed_as_of_at,
        {{ changed_persons_marks() }}
    from changed
    cross join as_of
    left join events on changed.person_id = events.person_id
    group by changed.person_id, as_of.as_of_at
)

select * from final
