{#- Both funnels as sequential (closed) funnels: a person counts at a step only when
    they reached it and every step before it, so no step is larger than the one above.
    step_rate is the share of the previous step that went on; overall_rate the share
    of the first step. funnel_newsletter / funnel_outbound keep the per-step counts. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

deal as (
    select * from {{ ref('deal') }}
),

newsletter_reached as (
    select
        last_email_sent_at is not null as emailed,
        last_clicked_at is not null or last_email_clicked_at is not null as clicked,
        signup_at is not null as signed_up,
        activated_at is not null as activated,
        first_subscribed_at is not null as subscribed
    from person_features
    where first_funnel = 'newsletter'
),

newsletter_counts as (
    select
        count(*) filter (where emailed) as emailed,
        count(*) filter (where emailed and clicked) as clicked,
        count(*) filter (where emailed and clicked and signed_up) as signed_up,
        count(*) filter (where emailed and clicked and signed_up and activated) as activated,
        count(*) filter (where emailed and clicked and signed_up and activated and subscribed) as subscribed
    from newsletter_reached
),

outbound_reached as (
    select
        coalesce(deal.replied_positive_at is not null or person_features.last_replied_positive_at is not null, false)
            as replied_positive,
        coalesce(deal.booked_at is not null or deal.call_booked_at is not null or person_features.has_booked_call, false)
            as booked_call,
        coalesce(deal.proposal_sent_at is not null, false) as proposal_sent,
        coalesce(deal.won_at is not null, false) as won
    from person_features
    left join deal on person_features.deal_id = deal.deal_id
    where person_features.is_lead
),

outbound_counts as (
    select
        count(*) as leads,
        count(*) filter (where replied_positive) as replied_positive,
        count(*) filter (where replied_positive and booked_call) as booked_call,
        count(*) filter (where replied_positive and booked_call and proposal_sent) as proposal_sent,
        count(*) filter (where replied_positive and booked_call and proposal_sent and won) as won
    from outbound_reached
),

steps as (
    select
        'newsletter' as funnel,
        s.step_number,
        s.step,
        s.persons
    from newsletter_counts as c
    cross join
        lateral (
            values
            (1, 'emailed', c.emailed),
            (2, 'clicked', c.clicked),
            (3, 'signed up', c.signed_up),
            (4, 'activated', c.activated),
            (5, 'subscribed', c.subscribed)
        ) as s (step_number, step, persons)
    union all
    select
        'outbound' as funnel,
        s.step_number,
        s.step,
        s.persons
    from outbound_counts as c
    cross join lateral (
        values
        (1, 'lead', c.leads),
        (2, 'replied positive', c.replied_positive),
        (3, 'booked call', c.booked_call),
        (4, 'proposal sent', c.proposal_sent),
        (5, 'won', c.won)
    ) as s (step_number, step, persons)
),

final as (
    select
        funnel,
        step_number,
        step,
        persons,
        round(persons::numeric / nullif(lag(persons) over (partition by funnel order by step_number), 0), 4)
            as step_rate,
        round(persons::numeric / nullif(first_value(persons) over (partition by funnel order by step_number), 0), 4)
            as overall_rate
    from steps
)

select * from final
