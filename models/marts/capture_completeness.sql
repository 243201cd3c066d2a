{#- Per raw table: rows landed, rows in `event`, rows excluded and why, rows missing.
    missing must be 0 (tests/dbt/assert_every_raw_row_captured.sql enforces it).
    A sum of the incremental counts (int_capture__counts), so it costs a few rows a cycle. -#}
with

counts as (
    select * from {{ ref('int_capture__counts') }}
),

reasons as (
    select
        raw_table,
        {{ json_object_agg('excluded_reason', 'row_count') }} as excluded_reasons
    from (
        select
            raw_table,
            excluded_reason,
            sum(row_count) as row_count
        from counts
        where outcome = 'excluded'
        group by raw_table, excluded_reason
    ) as counted
    where row_count > 0
    group by raw_table
),

per_table as (
    select
        raw_table,
        sum(row_count) as raw_rows,
        sum(case when outcome = 'event' then row_count else 0 end) as event_rows,
        sum(case when outcome = 'excluded' then row_count else 0 end) as excluded_rows,
        sum(case when outcome = 'missing' then row_count else 0 end) as missing_rows
    from counts
    group by raw_table
),

final as (
    select
        per_table.raw_table,
        {{ cast_as('per_table.raw_rows', 'bigint') }} as raw_rows,
        {{ cast_as('per_table.event_rows', 'bigint') }} as event_rows,
        {{ cast_as('per_table.excluded_rows', 'bigint') }} as excluded_rows,
        {{ cast_as('per_table.missing_rows', 'bigint') }} as missing_rows,
        round(100.0 * (per_table.raw_rows - per_table.missing_rows) / per_table.raw_rows, 2) as captured_pct,
        coalesce(reasons.excluded_reasons, {{ cast_as("'{}'", 'json') }}) as excluded_reasons
    from per_table
    left join reasons on per_table.raw_table = reasons.raw_table
    where per_table.raw_rows > 0
)

select * from final
