{#- Current membership: one row per (segment, person_id).
    This model only owns the table. Its rows are written by each segment model's
    post-hook (`segment_member_sync`, configured for the funnel folders in
    dbt_project.yml), which makes every segment a parent-free contributor: a new
    segment file is picked up without editing this model. Incremental, so a normal
    build keeps the rows; `--full-refresh` recreates it empty and the segments,
    which run after it, fill it again. Its post-hook removes rows of deleted
    segments and enforces the key with a unique index. -#}
{#- On Spark (parquet) the table is partitioned by segment: each segment's post-hook
    overwrites its partition, and the purge drops the partitions of removed segments. -#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        post_hook=["{{ segment_member_purge() }}"],
        contract={'enforced': target.type != 'spark'},
        partition_by=(['segment'] if target.type == 'spark' else none),
        file_format=('parquet' if target.type == 'spark' else none),
    )
}}

with

final as (
    {{ segment_member_empty() }}
)

select * from final
