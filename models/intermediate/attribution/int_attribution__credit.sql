{#- Credit per (conversion, touch, model): every touch of the person in the window of
    var attribution_window_days before the conversion, weighted four ways (each model's
    weights sum to 1 per attributed conversion):
      first touch     1 to the earliest touch
      last touch      1 to the latest touch at or before the conversion
      linear          1/n to each of the n touches
      position based  40 % first, 40 % last, 20 % shared by the touches between
                      (one touch: 100 %; two: 50/50)
    `credited_value_cents` = weight x the conversion's one-off value; weights are rounded
    to 6 decimals and credited value to the hundredth of a cent. -#}
with

conversions as (
    select * from {{ ref('int_attribution__conversions') }}
),

touches as (
    select * from {{ ref('int_attribution__touches') }}
),

in_window as (
    select
        conversions.conversion_event_id,
        conversions.conversion_type,
        conversions.value_cents,
        touches.touch_event_id,
        touches.touched_at,
        touches.campaign_id,
        touches.channel,
        row_number() over (
            partition by conversions.conversion_event_id order by touches.touched_at, touches.touch_event_id
        ) as touch_rank,
        count(*) over (partition by conversions.conversion_event_id) as touch_count
    from conversions
    inner join touches
        on conversions.person_id = touches.person_id
            and conversions.converted_at >= touches.touched_at
            and touches.touched_at > conversions.converted_at - interval '{{ var("attribution_window_days") }} days'
),

weighted as (
    select
        in_window.*,
        models.model,
        case models.model
            when 'first touch' then case when in_window.touch_rank = 1 then 1.0 else 0.0 end
            when 'last touch' then case when in_window.touch_rank = in_window.touch_count then 1.0 else 0.0 end
            when 'linear' then 1.0 / in_window.touch_count
            when 'position based' then
                case
                    when in_window.touch_count = 1 then 1.0
                    when in_window.touch_count = 2 then 0.5
                    when in_window.touch_rank in (1, in_window.touch_count) then 0.4
                    else 0.2 / (in_window.touch_count - 2)
                end
        end::numeric as weight
    from in_window
    cross join (
        values ('first touch'), ('last touch'), ('linear'), ('position based')
    ) as models (model)
),

final as (
    select
        conversion_event_id,
        conversion_type,
        touch_event_id,
        touched_at,
        campaign_id,
        channel,
        touch_rank,
        touch_count,
        model,
        round(weight, 6) as weight,
        round(weight * value_cents, 2) as credited_value_cents
    from weighted
    where weight > 0
)

select * from final
