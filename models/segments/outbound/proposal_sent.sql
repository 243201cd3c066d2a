{#- The person's current deal (most recently updated) is at stage proposal_sent.
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
        coalesce(deals.proposal_sent_at, deals.updated_at) as qualified_at,
        deals.deal_id,
        deals.amount_cents
    from person_features
    inner join deals on person_features.deal_id = deals.deal_id
    where deals.current_stage = 'proposal_sent'
)

select * from final
