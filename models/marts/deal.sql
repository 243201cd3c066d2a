{#- One row per deal: its current stage (the newest move by occurred_at), when
    each stage was first reached, owner and objections. Activation's annotations
    (owner assigned when a reply is routed to a human, objection tags) join in:
    a human's explicit owner on a deal move wins over the routing default. -#}
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
        (array_agg(value order by annotated_at desc, annotation_id desc) filter (where kind = 'assigned'))[1]
            as assigned_owner,
        array_agg(distinct value) filter (where kind = 'objection') as objections
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
        (array_agg(email order by occurred_at desc, landing_id desc))[1] as email,
        (array_agg(stage order by occurred_at desc, landing_id desc))[1] as current_stage,
        (array_agg(owner order by occurred_at desc, landing_id desc) filter (where owner is not null))[1] as owner,
        (array_agg(amount_cents order by occurred_at desc, landing_id desc) filter (where amount_cents is not null))[1] as amount_cents,
        coalesce(jsonb_agg(distinct objection) filter (where objection is not null), '[]'::jsonb) as objection_tags,
        {%- for stage in ['lead', 'contacted', 'replied_positive', 'replied_negative', 'booked', 'no_show', 'proposal_sent', 'won', 'lost'] %}
            min(occurred_at) filter (where stage = '{{ stage }}') as {{ stage }}_at,
        {%- endfor %}
        min(occurred_at) as created_at,
        max(occurred_at) as updated_at,
        count(*) as move_count
    from deal_events
    group by deal_id
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
        tags.objection_tags,
        tags.objections,
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
    cross join lateral (
        -- objection tags from deal moves and from activation's tag_objection, merged once
        select
            coalesce(jsonb_agg(distinct tag order by tag), '[]'::jsonb) as objection_tags,
            string_agg(distinct tag, ', ' order by tag) as objections
        from (
            select jsonb_array_elements_text(per_deal.objection_tags) as tag
            union
            select unnest(annotations.objections) as tag
        ) as merged
    ) as tags
)

select * from final
