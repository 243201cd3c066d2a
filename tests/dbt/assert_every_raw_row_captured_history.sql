{#- Capture completeness over the whole history (the nightly selection): every raw row received
    before this dbt invocation started is a row of `event` or excluded for a recorded reason. -#}
{{ config(tags=['nightly'], meta={'dagster': {'ref': {'name': 'event'}}}) }}
{{ uncaptured_raw_rows(windowed=false) }}
