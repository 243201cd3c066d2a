{#- The person's current deal is at stage replied_positive (they answered with
    interest and have not booked yet). Routed to a human; sequences stop.
    qualified_at = when the deal first reached it. -#}
with

person_features as (
    select * from {{ ref('person_features') }}
),

deals as (
    select * from {{ ref('deal') }}
),

final as (
    select
        person_features.person_id,
        coalesce(deals.replied_positive_at, deals.updated_at) as qualified_at,
        deals.deal_id,
        deals.owner
    from person_features
    inner join deals on person_features.deal_id = deals.deal_id
    where deals.current_stage = 'replied_positive'
)

select * from final
