{#- The person's current deal is at stage replied_negative (no interest / an
    objection). The objection is tagged and a slow drip answers it.
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
        coalesce(deals.replied_negative_at, deals.updated_at) as qualified_at,
        deals.deal_id,
        deals.objections as objection,
        deals.objection_tags
    from person_features
    inner join deals on person_features.deal_id = deals.deal_id
    where deals.current_stage = 'replied_negative'
)

select * from final
