-- Generic enter/exit webhooks (segment activation `{channel: webhook, url_env, secret_env}`)
-- are outbox actions like any other: same keys, same retries, so the outbox accepts `webhook`.

alter table activation.outbox drop constraint if exists outbox_channel_check;
alter table activation.outbox add constraint outbox_channel_check
    check (channel in ('email', 'meta_audience', 'meta_capi', 'notify_human', 'tag_objection', 'outbound', 'webhook'));
