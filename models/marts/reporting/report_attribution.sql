{#- Conversions and value credited per attribution model (first touch, last touch,
    linear, position based 40/20/40; int_attribution__credit), per campaign and channel,
    over the window in dbt var attribution_window_days. Each model's conversions add up
    to the conversion count: what no touch explains is one '(unattributed)' row per model.
    value_cents is one-off order and deal value; MRR is reported apart and never credited. -#}
with

attribution as (
    select * from {{ ref('attribution') }}
),

credit as (
    select * from {{ ref('int_attribution__credit') }}
),

models as (
    select model
    from (values ('first touch'), ('last touch'), ('linear'), ('position based')) as m (model)
),

credited as (
    select
        credit.model,
        credit.campaign_id,
        credit.channel,
        credit.conversion_type,
        credit.weight,
        credit.credited_value_cents,
        credit.weight * attribution.mrr_cents as credited_mrr_cents
    from credit
    inner join attribution on credit.conversion_event_id = attribution.conversion_event_id
    union all
    select
        models.model,
        '(unattributed)' as campaign_id,
        '(none)' as channel,
        attribution.conversion_type,
        1.0 as weight,
        attribution.value_cents as credited_value_cents,
        attribution.mrr_cents as credited_mrr_cents
    from attribution
    cross join models
    where not attribution.is_attributed
),

final as (
    select
        model,
        campaign_id,
        channel,
        conversion_type,
        round(sum(weight), 4)::numeric as conversions,
        round(coalesce(sum(credited_value_cents), 0))::bigint as value_cents,
        round(coalesce(sum(credited_mrr_cents), 0))::bigint as mrr_cents,
        {{ var("attribution_window_days") }}::integer as attribution_window_days
    from credited
    group by 1, 2, 3, 4
)

select * from final
