{#- Lift per segment: of the people who entered it (first entry, activation_holdout),
    how many converted within var attribution_window_days after entering, treated vs
    held out, and the difference with a 95 % confidence interval by Newcombe's hybrid
    score method (his method 10: the two Wilson score intervals combined), which stays
    inside [-1, 1] and behaves with small groups and rates near 0 where the Wald
    interval does not. Conversions: int_attribution__conversions. -#}
{{ config(materialized='view') }}  {#- a view: holdouts are assigned when the ledger records an entry -#}
with

entries as (
    select distinct on (segment, person_id)
        segment,
        person_id,
        qualified_at,
        is_holdout
    from {{ ref('activation_holdout') }}
    order by segment, person_id, qualified_at
),

conversions as (
    select * from {{ ref('int_attribution__conversions') }}
),

outcomes as (
    select
        entries.segment,
        entries.is_holdout,
        exists(
            select 1 from conversions
            where conversions.person_id = entries.person_id
                and conversions.converted_at >= entries.qualified_at
                and conversions.converted_at < entries.qualified_at + interval '{{ var("attribution_window_days") }} days'
        ) as converted
    from entries
),

groups as (
    select
        segment,
        count(*) as entrants,
        count(*) filter (where is_holdout) as holdout_size,
        count(*) filter (where not is_holdout) as treated_size,
        count(*) filter (where not is_holdout and converted) as treated_conversions,
        count(*) filter (where is_holdout and converted) as holdout_conversions
    from outcomes
    group by segment
),

rates as (
    select
        groups.*,
        groups.treated_conversions::double precision / nullif(groups.treated_size, 0) as treated_rate,
        groups.holdout_conversions::double precision / nullif(groups.holdout_size, 0) as holdout_rate
    from groups
),

wilson as (
    select
        rates.*,
        {{ wilson_bound('treated_rate', 'treated_size', -1) }} as treated_low,
        {{ wilson_bound('treated_rate', 'treated_size', 1) }} as treated_high,
        {{ wilson_bound('holdout_rate', 'holdout_size', -1) }} as holdout_low,
        {{ wilson_bound('holdout_rate', 'holdout_size', 1) }} as holdout_high
    from rates
),

final as (
    select
        segment,
        entrants,
        holdout_size,
        treated_size,
        treated_conversions,
        holdout_conversions,
        round(treated_rate::numeric, 4) as treated_rate,
        round(holdout_rate::numeric, 4) as holdout_rate,
        round((treated_rate - holdout_rate)::numeric, 4) as lift,
        round((
            treated_rate - holdout_rate
            - sqrt(power(treated_rate - treated_low, 2) + power(holdout_high - holdout_rate, 2))
        )::numeric, 4) as lift_low,
        round((
            treated_rate - holdout_rate
            + sqrt(power(treated_high - treated_rate, 2) + power(holdout_rate - holdout_low, 2))
        )::numeric, 4) as lift_high,
        'newcombe_hybrid_score_95' as interval_method
    from wilson
)

select * from final
