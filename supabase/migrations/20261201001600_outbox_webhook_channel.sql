-- Generic enter/exit webhooks (segment activation `{channel: webhook, url_env, secret_env}`)
-- are outbox actions like any other: same keys, same retries, so the outbox accepts `webhook`.
-- The sensor's first cursor is where the last pipeline cycle began: each cycle records the
-- raw high-water marks (max landing_id per raw table) it built from.

alter table activation.outbox drop constraint if exists outbox_channel_check;
alter table activation.outbox add constraint outbox_channel_check
    check (channel in ('email', 'meta_audience', 'meta_capi', 'notify_human', 'tag_objection', 'outbound', 'webhook'));

alter table activation.pipeline_cycle add column if not exists raw_marks jsonb;
comment on column activation.pipeline_cycle.raw_marks is 'max(landing_id) per raw table when the cycle''s dbt build began; the Dagster sensor''s first cursor.';
