{#- Per raw table: rows landed, rows in `event`, rows excluded and why, rows missing.
    missing must be 0 (tests/dbt/assert_every_raw_row_captured.sql enforces it). -#}
with

unreadable as (
    {#- Rows staging could not read: not in staging, so counted here, excluded with the field. -#}
    select
        raw_table,
        raw_key,
        'unreadable: ' || min(field) as excluded_reason
    from {{ ref('int_capture__unreadable_rows') }}
    group by raw_table, raw_key
),

raw_rows as (
    select
        raw_table,
        raw_key
    from {{ ref('int_capture__raw_rows') }}
    union all
    select
        raw_table,
        raw_key
    from unreadable
),

events as (
    select
        raw_table,
        raw_key
    from {{ ref('event') }}
),

excluded as (
    select
        raw_table,
        raw_key,
        excluded_reason
    from {{ ref('int_events__unioned') }}
    where excluded_reason is not null
    union all
    select * from unreadable
),

classified as (
    select
        raw_rows.raw_table,
        raw_rows.raw_key,
        case
            when events.raw_key is not null then 'event'
            when excluded.raw_key is not null then 'excluded'
            else 'missing'
        end as outcome,
        excluded.excluded_reason
    from raw_rows
    left join events on raw_rows.raw_table = events.raw_table and raw_rows.raw_key = events.raw_key
    left join excluded on raw_rows.raw_table = excluded.raw_table and raw_rows.raw_key = excluded.raw_key
),

reasons as (
    select
        raw_table,
        jsonb_object_agg(excluded_reason, row_count) as excluded_reasons
    from (
        select
            raw_table,
            excluded_reason,
            count(*) as row_count
        from classified
        where outcome = 'excluded'
        group by raw_table, excluded_reason
    ) as counted
    group by raw_table
),

final as (
    select
        classified.raw_table,
        count(*) as raw_rows,
        count(*) filter (where classified.outcome = 'event') as event_rows,
        count(*) filter (where classified.outcome = 'excluded') as excluded_rows,
        count(*) filter (where classified.outcome = 'missing') as missing_rows,
        round(100.0 * count(*) filter (where classified.outcome <> 'missing') / nullif(count(*), 0), 2) as captured_pct,
        coalesce(reasons.excluded_reasons, '{}'::jsonb) as excluded_reasons
    from classified
    left join reasons on classified.raw_table = reasons.raw_table
    group by classified.raw_table, reasons.excluded_reasons
)

select * from final
