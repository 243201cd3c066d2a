{#- One row per deal: its current stage (the newest move by occurred_at), when
    each stage was first reached, owner and objections. Activation's annotations
    (owner assigned when a reply is routed to a human, objection tags) join in:
    a human's explicit owner on a deal move wins over the routing default. -#}
{{ config(contract={'enforced': target.type != 'spark'}) }}
with

deal_events as (
    select * from {{ ref('stg_deals__events') }}
),

identity_link as (
    select
        identity_key,
        person_id
    from {{ ref('identity_link') }}
),

annotations as (
    select
        email,
        {{ first_by('value', 'annotated_at desc, annotation_id desc', "kind = 'assigned'") }} as assigned_owner,
        {{ array_agg_distinct("case when kind = 'objection' then value end") }} as objections
    from {{ ref('stg_activation__deal_annotations') }}
    where email is not null
    group by 1
),

booked_calls as (
    select
        person_id,
        min(occurred_at) as first_call_booked_at
    from {{ ref('event') }}
    where event_type = 'call_booked' and person_id is not null
    group by person_id
),

per_deal as (
    select
        deal_id,
        {{ first_by('email', 'occurred_at desc, landing_id desc') }} as email,
        {{ first_by('stage', 'occurred_at desc, landing_id desc') }} as current_stage,
        {{ first_by('owner', 'occurred_at desc, landing_id desc', 'owner is not null') }} as owner,
        {{ first_by('amount_cents', 'occurred_at desc, landing_id desc', 'amount_cents is not null') }} as amount_cents,
        {{ array_agg_distinct('objection') }} as objection_tags,
        {%- for stage in ['lead', 'contacted', 'replied_positive', 'replied_negative', 'booked', 'no_show', 'proposal_sent', 'won', 'lost'] %}
            min(occurred_at) filter (where stage = '{{ stage }}') as {{ stage }}_at,
        {%- endfor %}
        min(occurred_at) as created_at,
        max(occurred_at) as updated_at,
        count(*) as move_count
    from deal_events
    group by deal_id
),

tags as (
    -- objection tags from deal moves and from activation's tag_objection, merged once
    select
        per_deal.deal_id,
        {{ array_merge_distinct('per_deal.objection_tags', 'annotations.objections') }} as tags
    from per_deal
    left join annotations on per_deal.email = annotations.email
),

final as (
    select
        per_deal.deal_id,
        identity_link.person_id,
        per_deal.email,
        per_deal.current_stage,
        per_deal.current_stage in ('won', 'lost') as is_closed,
        per_deal.current_stage = 'won' as is_won,
        per_deal.current_stage = 'lost' as is_lost,
        coalesce(per_deal.owner, annotations.assigned_owner) as owner,
        {{ array_to_json('tags.tags') }} as objection_tags,
        {{ array_join_nonempty('tags.tags', "', '") }} as objections,
        per_deal.amount_cents,
        per_deal.lead_at,
        per_deal.contacted_at,
        per_deal.replied_positive_at,
        per_deal.replied_negative_at,
        per_deal.booked_at,
        least(per_deal.booked_at, booked_calls.first_call_booked_at) as call_booked_at,
        per_deal.no_show_at,
        per_deal.proposal_sent_at,
        per_deal.won_at,
        per_deal.lost_at,
        per_deal.created_at,
        per_deal.updated_at,
        per_deal.move_count
    from per_deal
    left join identity_link on identity_link.identity_key = {{ identity_key('email', 'per_deal.email') }}
    left join booked_calls on identity_link.person_id = booked_calls.person_id
    left join annotations on per_deal.email = annotations.email
    inner join tags on per_deal.deal_id = tags.deal_id
)

select * from final
