{#- Capture completeness: every raw row received before this dbt invocation started
    is a row of `event` or excluded for a recorded reason (redelivery never reaches
    raw; bot clicks, identity-only rows, unmapped types are recorded). Returns the
    rows that are neither. Dagster shows it as a check on `event`. -#}
{{ config(meta={'dagster': {'ref': {'name': 'event'}}}) }}
with

raw_rows as (
    select * from {{ ref('int_capture__raw_rows') }}
    where received_at < '{{ run_started_at }}'::timestamptz
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
        raw_key
    from {{ ref('int_events__unioned') }}
    where excluded_reason is not null
)

select raw_rows.*
from raw_rows
where not exists (
        select 1 from events
        where events.raw_table = raw_rows.raw_table and events.raw_key = raw_rows.raw_key
    )
    and not exists (
        select 1 from excluded
        where excluded.raw_table = raw_rows.raw_table and excluded.raw_key = raw_rows.raw_key
    )
