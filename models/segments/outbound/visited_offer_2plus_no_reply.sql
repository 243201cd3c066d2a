{#- Outbound leads who viewed the offer page 2+ times (var offer_visits_min) in the last
    30 days (var offer_visits_window_days) and have not replied, booked or progressed:
    no reply of any kind and a deal stage (if any) of lead or contacted.
    qualified_at = the visit that reached 2. -#}
with

events as (
    select * from {{ ref('event') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

offer_visits as (
    select
        person_id,
        occurred_at,
        row_number() over (partition by person_id order by occurred_at, event_id) as visit_number,
        count(*) over (partition by person_id) as offer_visits
    from events
    where event_type = 'offer_page_viewed'
        and person_id is not null
        and occurred_at > {{ as_of() }} - interval '{{ var("offer_visits_window_days") }} days'
        and occurred_at <= {{ as_of() }}
),

final as (
    select
        offer_visits.person_id,
        offer_visits.occurred_at as qualified_at,
        offer_visits.offer_visits,
        person_features.outbound_stage
    from offer_visits
    inner join person_features on offer_visits.person_id = person_features.person_id
    where offer_visits.visit_number = {{ var("offer_visits_min") }}
        and person_features.is_lead
        and coalesce(person_features.outbound_stage, 'lead') in ('lead', 'contacted')
        and person_features.last_email_reply_at is null
        and person_features.last_replied_positive_at is null
        and person_features.last_replied_negative_at is null
        and not person_features.has_booked_call
)

select * from final
