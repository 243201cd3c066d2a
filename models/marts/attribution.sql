{#- One row per conversion (int_attribution__conversions: once per order or deal) with
    its first- and last-touch campaign within var `attribution_window_days` before it
    (email -> click -> session -> conversion), and the conversion's value under each model
    (int_attribution__credit holds the per-touch split for linear and position based).
    `value_cents` is the one-off order or deal value; `mrr_cents` the subscription's MRR,
    kept apart so revenue never mixes the two. -#}
with

conversions as (
    select * from {{ ref('int_attribution__conversions') }}
),

credit as (
    select * from {{ ref('int_attribution__credit') }}
),

first_touch as (
    select * from credit
    where model = 'first touch'
),

last_touch as (
    select * from credit
    where model = 'last touch'
),

final as (
    select
        conversions.conversion_event_id,
        conversions.person_id,
        conversions.conversion_type,
        conversions.converted_at,
        conversions.value_cents,
        conversions.mrr_cents,
        conversions.currency,
        first_touch.campaign_id as first_touch_campaign_id,
        first_touch.channel as first_touch_channel,
        first_touch.touched_at as first_touch_at,
        first_touch.touch_event_id as first_touch_event_id,
        last_touch.campaign_id as last_touch_campaign_id,
        last_touch.channel as last_touch_channel,
        last_touch.touched_at as last_touch_at,
        last_touch.touch_event_id as last_touch_event_id,
        coalesce(first_touch.touch_count, 0) as touches_in_window,
        first_touch.touch_event_id is not null as is_attributed,
        {{ var("attribution_window_days") }} as attribution_window_days
    from conversions
    left join first_touch on conversions.conversion_event_id = first_touch.conversion_event_id
    left join last_touch on conversions.conversion_event_id = last_touch.conversion_event_id
)

select * from final
