{#- The report's headline numbers, one row per KPI, each with the definition the
    report prints under it. Rates are shares (0-1) of the step before. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

subscription as (
    select * from {{ ref('subscription') }}
),

deal as (
    select * from {{ ref('deal') }}
),

people as (
    select
        count(*) filter (where signup_at is not null) as signed_up,
        count(*) filter (where signup_at is not null and activated_at is not null) as activated,
        count(*) filter (where signup_at is not null and first_subscribed_at is not null) as subscribed,
        count(*) filter (where has_booked_call) as booked_call
    from person_features
),

revenue as (
    select coalesce(sum(mrr_cents) filter (where is_paying), 0) as mrr_cents
    from subscription
),

deals as (
    select count(*) filter (where won_at is not null) as won
    from deal
),

final as (
    select
        kpis.kpi_number,
        kpis.kpi,
        kpis.value,
        kpis.unit,
        kpis.definition
    from people
    cross join revenue
    cross join deals
    cross join lateral (
        values
        (
            1, 'sign-ups', people.signed_up::numeric, 'persons',
            'Persons with an app sign-up (signup_at set), any funnel.'
        ),
        (
            2, 'activation rate', people.activated::numeric / nullif(people.signed_up, 0), 'share',
            'Signed-up persons who also activated, over signed-up persons.'
        ),
        (
            3, 'paid conversion', people.subscribed::numeric / nullif(people.signed_up, 0), 'share',
            'Signed-up persons who ever started a subscription, over signed-up persons.'
        ),
        (
            4, 'MRR', revenue.mrr_cents::numeric, 'cents',
            'Monthly recurring revenue of paying subscriptions today (Stripe, normalized to a month).'
        ),
        (
            5, 'booked calls', people.booked_call::numeric, 'persons',
            'Persons who booked a call (Cal.com, Calendly or the deal stage).'
        ),
        (
            6, 'won deals', deals.won::numeric, 'deals',
            'Deals that reached the won stage.'
        )
    ) as kpis (kpi_number, kpi, value, unit, definition)
)

select * from final
