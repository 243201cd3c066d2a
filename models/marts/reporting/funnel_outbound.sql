{#- The cold outbound funnel, one row per step: leads, leads who clicked, then deals
    reaching each stage (each step counted on its own). -#}
with

person_features as (
    select * from {{ ref('person_features') }}
    where is_lead
),

deal as (
    select * from {{ ref('deal') }}
),

lead_counts as (
    select
        count(*) as leads,
        count(*) filter (where last_clicked_at is not null) as clicked
    from person_features
),

deal_counts as (
    select
        count(*) filter (where replied_positive_at is not null) as replied_positive,
        count(*) filter (where booked_at is not null or call_booked_at is not null) as booked_call,
        count(*) filter (where proposal_sent_at is not null) as proposal_sent,
        count(*) filter (where won_at is not null) as won
    from deal
),

final as (
    select
        steps.step_number,
        steps.step,
        steps.persons
    from lead_counts
    cross join deal_counts
    cross join lateral (
        values
        (1, 'lead', lead_counts.leads),
        (2, 'clicked', lead_counts.clicked),
        (3, 'replied positive', deal_counts.replied_positive),
        (4, 'booked call', deal_counts.booked_call),
        (5, 'proposal sent', deal_counts.proposal_sent),
        (6, 'won', deal_counts.won)
    ) as steps (step_number, step, persons)
)

select * from final
