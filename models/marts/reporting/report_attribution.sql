{#- Conversions and revenue credited per attribution model (first touch, last touch,
    both over the window in dbt var attribution_window_days), per campaign and channel. -#}
with

attribution as (
    select * from {{ ref('attribution') }}
),

credited as (
    select
        'first touch' as model,
        coalesce(first_touch_campaign_id, '(unattributed)') as campaign_id,
        coalesce(first_touch_channel, '(none)') as channel,
        conversion_type,
        revenue_cents,
        attribution_window_days
    from attribution
    union all
    select
        'last touch' as model,
        coalesce(last_touch_campaign_id, '(unattributed)') as campaign_id,
        coalesce(last_touch_channel, '(none)') as channel,
        conversion_type,
        revenue_cents,
        attribution_window_days
    from attribution
),

final as (
    select
        model,
        campaign_id,
        channel,
        conversion_type,
        count(*) as conversions,
        coalesce(sum(revenue_cents), 0)::bigint as revenue_cents,
        max(attribution_window_days)::integer as attribution_window_days
    from credited
    group by 1, 2, 3, 4
)

select * from final
