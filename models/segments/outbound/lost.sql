{#- The person's current deal is lost, and was lost less than 180 days ago
    (var lost_nurture_max_age_days). 30-day nurture and a retargeting audience.
    qualified_at = when the deal was lost. -#}
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
        coalesce(deals.lost_at, deals.updated_at) as qualified_at,
        deals.deal_id,
        deals.objection_tags
    from person_features
    inner join deals on person_features.deal_id = deals.deal_id
    where deals.current_stage = 'lost'
        and coalesce(deals.lost_at, deals.updated_at) > {{ as_of() }} - interval '{{ var("lost_nurture_max_age_days") }} days'
)

select * from final
