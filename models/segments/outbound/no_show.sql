{#- The latest booking ended in a no-show (person_features.is_no_show) and the deal is
    not closed. Leaves when the person books again. qualified_at = the no-show. -#}
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
        coalesce(person_features.last_no_show_at, deals.no_show_at, {{ as_of() }}) as qualified_at,
        person_features.outbound_stage
    from person_features
    left join deals on person_features.deal_id = deals.deal_id
    where person_features.is_no_show
        and coalesce(person_features.outbound_stage, 'no_show') not in ('won', 'lost')
)

select * from final
