-- Sends that wait instead of dying, dry-runs that leave the work, held transitions planned once.
--
-- * `deferred`: a frequency cap kept the email from going now; it waits for `next_attempt_at`
--   (the start of the next allowed window) and is `expired` if that is past `expires_at`
--   (qualified_at + the template's `expires_after`).
-- * `dry_run` is no longer final: a keyed run takes the row back (to `pending`) and sends it.
-- * A held transition is planned once (its `held` rows) and marked `is_held` here; approval
--   releases it to be planned for real, so activate() does not re-plan what is still held.
-- * A sequence enrollment waits on the outbox row of the step it last queued
--   (`waiting_outbox_key`) and advances only once that step was sent.
-- * `pipeline_cycle.planned_at`: the ledger of a Dagster run is planned once, by the first of
--   its activation assets, not once per asset.

alter table activation.outbox drop constraint if exists outbox_status_check;
alter table activation.outbox add constraint outbox_status_check check (status in (
    'pending', 'sent', 'failed', 'dead', 'skipped_suppressed', 'skipped_cap',
    'held', 'holdout', 'dry_run', 'expired', 'skipped', 'deferred'));
alter table activation.outbox add column if not exists expires_at timestamptz;
comment on column activation.outbox.expires_at is 'A deferred action is expired rather than sent after this time (email: qualified_at + the template''s expires_after).';
create index if not exists outbox_waiting_idx on activation.outbox (channel, next_attempt_at)
    where status in ('deferred', 'dry_run');

alter table activation.transition_processed add column if not exists is_held boolean not null default false;
comment on column activation.transition_processed.is_held is 'Planned as held (blast-radius guard): planned again, for real, once the transition is approved.';
create index if not exists transition_processed_held_idx on activation.transition_processed (transition_id) where is_held;

alter table activation.sequence_enrollment add column if not exists waiting_outbox_key text;
comment on column activation.sequence_enrollment.waiting_outbox_key is 'Outbox key of the step queued last; the sequence moves on only once it was sent.';

alter table activation.pipeline_cycle add column if not exists planned_at timestamptz;
comment on column activation.pipeline_cycle.planned_at is 'When activation planned this cycle''s transitions (once per run, by the first activation asset).';
