{#- One row per deal move. A deal is one lead's opportunity: its id is the
    payload's deal_id when the CRM sends one, else derived from the email. -#}
with

source as (
    select * from {{ source('deals', 'deal_event') }}
    where {{ readable_row('deal_event') }}
),

final as (
    select
        deal_event_id,
        landing_id,
        received_at,
        occurred_at,
        {{ normalize_identifier('email', 'email') }} as email,
        coalesce(nullif({{ json_get_text('payload', 'deal_id') }}, ''), 'deal_' || left(md5(lower(btrim(email))), 16)) as deal_id,
        lower(stage) as stage,
        note,
        nullif(btrim(objection), '') as objection,
        nullif(btrim(owner), '') as owner,
        {{ try_cast_as(json_get_text('payload', 'amount_cents'), 'bigint') }} as amount_cents,
        via
    from source
)

select * from final
