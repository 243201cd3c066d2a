{#- The newsletter funnel, one row per step: persons whose first funnel is the
    newsletter and who reached the step (each step counted on its own). -#}
with

person_features as (
    select * from {{ ref('person_features') }}
    where first_funnel = 'newsletter'
),

counts as (
    select
        count(*) filter (where last_email_sent_at is not null) as emailed,
        count(*) filter (where last_clicked_at is not null or last_email_clicked_at is not null) as clicked,
        count(*) filter (where signup_at is not null) as signed_up,
        count(*) filter (where activated_at is not null) as activated,
        count(*) filter (where first_subscribed_at is not null) as subscribed
    from person_features
),

final as (
    select
        steps.step_number,
        steps.step,
        steps.persons
    from counts
    cross join lateral (
        values
        (1, 'emailed', counts.emailed),
        (2, 'clicked', counts.clicked),
        (3, 'signed up', counts.signed_up),
        (4, 'activated', counts.activated),
        (5, 'subscribed', counts.subscribed)
    ) as steps (step_number, step, persons)
)

select * from final
