{#- Current membership: one row per (segment, person_id).
    This model only owns the table. Its rows are written by each segment model's
    post-hook (`segment_member_sync`, configured for the funnel folders in
    dbt_project.yml), which makes every segment a parent-free contributor: a new
    segment file is picked up without editing this model. Incremental, so a normal
    build keeps the rows; `--full-refresh` recreates it empty and the segments,
    which run after it, fill it again. Its post-hook removes rows of deleted
    segments and enforces the key with a unique index. -#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        post_hook=["{{ segment_member_purge() }}"],
    )
}}

with

final as (
    select
        null::text as segment,
        null::text as person_id,
        null::timestamptz as qualified_at,
        null::jsonb as context
    where false
)

select * from final
