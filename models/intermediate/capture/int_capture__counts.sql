{{ config(
    materialized='incremental',
    unique_key='raw_table',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
{#- Raw rows per (raw_table, outcome, excluded_reason), counted incrementally so a cycle
    reads what arrived, not the history (capture_completeness sums it).

    Per raw table the rows before `settled_before` (the newest arrival the last build saw
    in the raw table, minus var event_lookback: the same late-commit allowance as `event`;
    the whole table once its newest arrival is older than the lookback by the wall clock, so
    a table that stopped receiving, such as a lead import, is not counted again each cycle)
    were counted once and are kept as they are (is_settled). Each build reads only the rows from there on,
    adds those that are now older than the new mark to the settled counts, and counts the
    rest (the window: rows a landing may still join, or `event` may not have taken in yet)
    afresh, replacing the last build's window rows. A row is `event` when `event` holds its
    (raw_table, raw_key), else `excluded` when staging refused it (unreadable) or
    int_events__unioned gives it a reason, else `missing`.

    `gdp person forget` deletes raw rows: when the tombstones changed since the last build
    (their count and newest forgotten_at, `tombstones_seen`), everything is counted again.
    Every listed table has its `event` and `missing` rows (0 allowed), so each build
    replaces every table's rows (delete+insert on raw_table). -#}
{%- set tables = capture_tables() %}
{%- set lookback = "interval '" ~ var('event_lookback') ~ "'" %}
with

tombstones as (
    select {{ cast_as('count(*)', 'text') }} || ' ' || coalesce({{ cast_as('max(forgotten_at)', 'text') }}, '') as tombstones_seen
    from {{ source('privacy', 'forgotten_identifier') }}
),

previous as (
    {%- if is_incremental() %}
        select
            raw_table,
            outcome,
            excluded_reason,
            row_count,
            is_settled,
            settled_before
        from {{ this }}
        where tombstones_seen = (select tombstones.tombstones_seen from tombstones)
    {%- else %}
        select
            {{ typed_null('text') }} as raw_table,
            {{ typed_null('text') }} as outcome,
            {{ typed_null('text') }} as excluded_reason,
            {{ typed_null('bigint') }} as row_count,
            {{ typed_null('boolean') }} as is_settled,
            {{ typed_null('timestamp') }} as settled_before
        where 1 = 0
    {%- endif %}
),

bounds as (
    {%- for raw_table, model, key, received, settled_by in tables %}
        select
            {{ text_literal(raw_table) }} as raw_table,
            coalesce(
                (
                    select max(previous.settled_before) from previous
                    where previous.raw_table = {{ text_literal(raw_table) }}
                ),
                {{ min_timestamp() }}
            ) as settled_from,
            {%- if settled_by is not none %}
                greatest(
                    coalesce(
                        (
                            select max(previous.settled_before) from previous
                            where previous.raw_table = {{ text_literal(raw_table) }}
                        ),
                        {{ min_timestamp() }}
                    ),
                    coalesce((select max({{ received }}) from {{ settled_by }}) - {{ lookback }}, {{ min_timestamp() }}),
                    least(
                        coalesce((select max({{ received }}) from {{ settled_by }}) + interval '1 microsecond', {{ min_timestamp() }}),
                        current_timestamp - {{ lookback }}
                    )
                ) as settled_to
            {%- else %}
                {{ min_timestamp() }} as settled_to
            {%- endif %}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
),

{#- Each union branch compares with its own table's mark, so the filter reaches the arrival index. -#}
{#- The filter is built once and placed in two clauses; its layout is checked where it lands. -#}
-- noqa: disable=LT02
{%- set since_mark -%}
    ({%- for raw_table, model, key, received, settled_by in tables %}
        (raw_table = {{ text_literal(raw_table) }}
            and received_at >= (select bounds.settled_from from bounds where bounds.raw_table = {{ text_literal(raw_table) }}))
        {%- if not loop.last %} or{% endif %}
    {%- endfor %})
{%- endset %}
-- noqa: enable=LT02

unreadable as (
    select
        raw_table,
        raw_key,
        min(received_at) as received_at,
        'unreadable: ' || min(field) as excluded_reason
    from {{ ref('int_capture__unreadable_rows') }}
    where {{ since_mark }}
    group by raw_table, raw_key
),

arrived as (
    {%- for raw_table, model, key, received, settled_by in tables %}
        select
            {{ text_literal(raw_table) }} as raw_table,
            {{ key }} as raw_key,
            {{ received }}
        from {{ ref(model) }}
        where {{ received }} >= (
                select bounds.settled_from from bounds
                where bounds.raw_table = {{ text_literal(raw_table) }}
            )
        union all
    {%- endfor %}
    select
        raw_table,
        raw_key,
        received_at
    from unreadable
),

excluded as (
    select
        raw_table,
        raw_key,
        min(excluded_reason) as excluded_reason
    from (
        select
            raw_table,
            raw_key,
            excluded_reason
        from {{ ref('int_events__unioned') }}
        where excluded_reason is not null
            and {{ since_mark }}
        union all
        select
            raw_table,
            raw_key,
            excluded_reason
        from unreadable
    ) as reasons
    group by raw_table, raw_key
),

classified as (
    select
        arrived.raw_table,
        arrived.received_at < bounds.settled_to as is_settled,
        case
            when exists (
                    select 1 from {{ ref('event') }} as events
                    where events.raw_table = arrived.raw_table and events.raw_key = arrived.raw_key
                ) then 'event'
            when excluded.raw_key is not null then 'excluded'
            else 'missing'
        end as outcome,
        excluded.excluded_reason
    from arrived
    inner join bounds on arrived.raw_table = bounds.raw_table
    left join excluded on arrived.raw_table = excluded.raw_table and arrived.raw_key = excluded.raw_key
),

counted as (
    select
        raw_table,
        outcome,
        case when outcome = 'excluded' then excluded_reason end as excluded_reason,
        is_settled,
        count(*) as row_count
    from classified
    group by 1, 2, 3, 4
),

{# every table carries its `event` and `missing` rows, so the build replaces all its rows #}
every_table as (
    select
        bounds.raw_table,
        outcomes.outcome,
        {{ typed_null('text') }} as excluded_reason,
        false as is_settled,
        {{ cast_as('0', 'bigint') }} as row_count
    from bounds
    cross join (
        select 'event' as outcome
        union all
        select 'missing' as outcome
    ) as outcomes
),

combined as (
    select
        raw_table,
        outcome,
        excluded_reason,
        is_settled,
        row_count
    from previous
    where is_settled
    union all
    select * from counted
    union all
    select * from every_table
),

final as (
    select
        combined.raw_table,
        combined.outcome,
        combined.excluded_reason,
        combined.is_settled,
        {{ cast_as('sum(combined.row_count)', 'bigint') }} as row_count,
        bounds.settled_to as settled_before,
        (select tombstones.tombstones_seen from tombstones) as tombstones_seen
    from combined
    inner join bounds on combined.raw_table = bounds.raw_table
    group by combined.raw_table, combined.outcome, combined.excluded_reason, combined.is_settled, bounds.settled_to
)

select * from final
