{#- Outbound leads who opened 2+ outbound emails (var warm_lead_min_opens) in the last
    30 days (var warm_lead_window_days), have not replied or booked, and whose deal (if
    any) is still at lead or contacted. qualified_at = the open that reached 2. -#}
with

email_messages as (
    select * from {{ ref('email_message') }}
),

person_features as (
    select * from {{ ref('person_features') }}
),

opens as (
    select
        person_id,
        first_opened_at,
        row_number() over (partition by person_id order by first_opened_at, email_message_id) as open_number,
        count(*) over (partition by person_id) as outbound_opens
    from email_messages
    where funnel = 'outbound'
        and person_id is not null
        and first_opened_at > {{ as_of() }} - interval '{{ var("warm_lead_window_days") }} days'
        and first_opened_at <= {{ as_of() }}
),

final as (
    select
        opens.person_id,
        opens.first_opened_at as qualified_at,
        opens.outbound_opens,
        person_features.outbound_stage
    from opens
    inner join person_features on opens.person_id = person_features.person_id
    where opens.open_number = {{ var("warm_lead_min_opens") }}
        and person_features.is_lead
        and coalesce(person_features.outbound_stage, 'lead') in ('lead', 'contacted')
        and person_features.last_email_reply_at is null
        and not person_features.has_booked_call
)

select * from final
