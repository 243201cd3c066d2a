{#- One row per ledger transition, as the ledger wrote it. A view, so models on top
    see a transition the moment the ledger commits it. -#}
with

source as (
    select * from {{ source('ledger', 'membership_transition') }}
),

final as (
    select
        transition_id,
        cycle_id,
        segment,
        person_id,
        transition,
        merged_into_person_id,
        segment_version,
        qualified_at,
        recorded_at,
        is_held,
        approved_at
    from source
)

select * from final
