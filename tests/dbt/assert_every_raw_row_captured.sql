{#- Capture completeness of this cycle: every raw row received in the cycle's window
    (macros/cycle_window.sql) before this dbt invocation started is a row of `event` or
    excluded for a recorded reason (redelivery never reaches raw; bot clicks, identity-only
    rows, unmapped types are recorded). Returns the rows that are neither. Dagster shows it
    as a check on `event`. The whole history: assert_every_raw_row_captured_history (nightly). -#}
{{ config(meta={'dagster': {'ref': {'name': 'event'}}}) }}
{{ uncaptured_raw_rows(windowed=true) }}
