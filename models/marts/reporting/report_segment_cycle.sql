{#- Segment size after each pipeline cycle, with the cycle's moves, from the ledger.
    A merge folds a duplicate into its survivor: the duplicate leaves, the survivor
    stays or joins. Size is the running count of persons whose last move was in. -#}
{{ config(materialized='view') }}  {#- a view: the ledger and outbox move after the cycle's dbt build -#}
with

transitions as (
    select * from {{ ref('stg_ledger__membership_transitions') }}
),

cycles as (
    select
        cycle_id,
        min(recorded_at) as cycle_at
    from transitions
    group by cycle_id
),

moves as (
    select
        segment,
        person_id as member_id,
        cycle_id,
        transition_id,
        transition = 'entered' as is_in
    from transitions
    union all
    select
        segment,
        merged_into_person_id,
        cycle_id,
        transition_id,
        true as is_in
    from transitions
    where transition = 'merged' and merged_into_person_id is not null
),

moves_in_order as (
    select
        moves.segment,
        moves.cycle_id,
        moves.is_in,
        lag(moves.is_in) over (
            partition by moves.segment, moves.member_id order by cycles.cycle_at, moves.transition_id
        ) as was_in
    from moves
    inner join cycles on moves.cycle_id = cycles.cycle_id
),

size_changes as (
    select
        segment,
        cycle_id,
        sum(case
            when is_in and not coalesce(was_in, false) then 1
            when not is_in and coalesce(was_in, false) then -1
            else 0
        end) as size_change
    from moves_in_order
    group by segment, cycle_id
),

counts as (
    select
        segment,
        cycle_id,
        count(*) filter (where transition = 'entered') as entered,
        count(*) filter (where transition = 'exited') as exited,
        count(*) filter (where transition = 'merged') as merged,
        count(*) filter (where is_held and approved_at is null) as held
    from transitions
    group by segment, cycle_id
),

grid as (
    select
        segments.segment,
        cycles.cycle_id,
        cycles.cycle_at
    from (select distinct segment from transitions) as segments
    cross join cycles
),

final as (
    select
        grid.segment,
        grid.cycle_id,
        grid.cycle_at,
        coalesce(counts.entered, 0) as entered,
        coalesce(counts.exited, 0) as exited,
        coalesce(counts.merged, 0) as merged,
        coalesce(counts.held, 0) as held,
        sum(coalesce(size_changes.size_change, 0)) over (
            partition by grid.segment order by grid.cycle_at, grid.cycle_id rows unbounded preceding
        )::bigint as members
    from grid
    left join counts on grid.segment = counts.segment and grid.cycle_id = counts.cycle_id
    left join size_changes on grid.segment = size_changes.segment and grid.cycle_id = size_changes.cycle_id
)

select * from final
