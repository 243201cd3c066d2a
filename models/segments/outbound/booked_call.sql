{#- Has a booked call (not canceled since, person_features.has_booked_call) that has
    not happened yet (no meeting_ended after the booking), is not a no-show, and no
    proposal / decision yet. qualified_at = latest booking. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

deals as (
    select * from {{ ref('deal') }}
),

final as (
    select
        person_features.person_id,
        coalesce(person_features.last_call_booked_at, deals.call_booked_at, {{ as_of() }}) as qualified_at,
        person_features.outbound_stage
    from person_features
    left join deals on person_features.deal_id = deals.deal_id
    where person_features.has_booked_call
        and not person_features.is_no_show
        and (
            person_features.last_meeting_ended_at is null
            or person_features.last_meeting_ended_at < person_features.last_call_booked_at
        )
        and coalesce(person_features.outbound_stage, 'booked') not in ('proposal_sent', 'won', 'lost')
)

select * from final
