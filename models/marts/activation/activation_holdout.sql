{#- One row per ledger entry (an `entered` transition): the person's holdout bucket
    for the segment and whether that entry is held out, so nobody is contacted and
    attribution can compare the held-out group with the rest. The bucket is a hash of
    (segment, person_id) (macros/holdout_bucket.sql): the same person always lands on
    the same side of the same segment. A view, so a transition is assigned the moment
    the ledger records it. -#}
with

transitions as (
    select * from {{ ref('stg_ledger__membership_transitions') }}
    where transition = 'entered'
),

segment as (
    select * from {{ ref('segment') }}
),

buckets as (
    select
        transitions.transition_id,
        transitions.cycle_id,
        transitions.segment,
        transitions.person_id,
        transitions.qualified_at,
        coalesce(segment.holdout_share, 0)::double precision as holdout_share,
        {{ holdout_bucket('transitions.segment', 'transitions.person_id') }} as holdout_bucket
    from transitions
    left join segment on transitions.segment = segment.segment
),

final as (
    select
        transition_id,
        cycle_id,
        segment,
        person_id,
        qualified_at,
        holdout_share,
        holdout_bucket,
        holdout_share > 0 and holdout_bucket < holdout_share as is_holdout
    from buckets
)

select * from final
