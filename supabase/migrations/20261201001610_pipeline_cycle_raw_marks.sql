-- The Dagster sensor's first cursor is where the last pipeline cycle began: each cycle
-- (`gdp refresh`, the demo) records the raw high-water marks (max landing_id per raw
-- table) its dbt build started from (orchestration/watermarks.py).

alter table activation.pipeline_cycle add column if not exists raw_marks jsonb;
comment on column activation.pipeline_cycle.raw_marks is 'max(landing_id) per raw table when the cycle''s dbt build began; the Dagster sensor''s first cursor.';
