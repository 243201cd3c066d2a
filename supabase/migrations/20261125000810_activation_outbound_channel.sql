-- Outbound sequence enrollments are outbox actions too (status sent / holdout / held /
-- skipped_suppressed per enrollment), so the outbox accepts the `outbound` channel.

alter table activation.outbox drop constraint if exists outbox_channel_check;
alter table activation.outbox add constraint outbox_channel_check
    check (channel in ('email', 'meta_audience', 'meta_capi', 'notify_human', 'tag_objection', 'outbound'));
