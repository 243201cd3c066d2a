with

source as (
    select * from {{ source('unsubscribe', 'unsubscribe') }}
),

final as (
    select
        unsubscribe_id,
        landing_id,
        received_at,
        received_at as unsubscribed_at,
        btrim(person_id) as person_id,
        nullif(btrim(campaign_id), '') as campaign_id,
        method
    from source
)

select * from final
