-- Activation state: the outbox (every intended provider call, written before the call),
-- the send log dbt's `email_message` reads, Meta audience membership this system added,
-- outbound sequence enrollments, deal annotations and processed ledger transitions.

create table if not exists activation.outbox (
    outbox_id         bigint generated always as identity primary key,
    -- Derived from (segment, person_id, transition, channel, step) or, for conversion
    -- events, from the event id; it is the provider Idempotency-Key, so it never changes.
    outbox_key        text not null unique,
    segment           text,
    person_id         text,
    transition_id     bigint,
    transition        text,
    channel           text not null check (channel in ('email', 'meta_audience', 'meta_capi', 'notify_human', 'tag_objection')),
    step              integer not null default 0,
    action            jsonb not null default '{}'::jsonb,
    status            text not null default 'pending' check (status in (
                          'pending', 'sent', 'failed', 'dead', 'skipped_suppressed', 'skipped_cap',
                          'held', 'holdout', 'dry_run', 'expired', 'skipped')),
    attempts          integer not null default 0,
    next_attempt_at   timestamptz not null default now(),
    -- The exact request body, stored before the first call so a retry repeats it byte for byte
    -- (Resend answers 409 to a reused Idempotency-Key with a different body).
    payload           jsonb,
    prepared_at       timestamptz,
    -- Emails sent together share a batch key, persisted before the call, so a crashed
    -- batch is retried as the same batch under the same Idempotency-Key.
    batch_key         text,
    send_single       boolean not null default false,
    provider_id       text,
    error             text,
    qualified_at      timestamptz,
    cycle_id          text,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    sent_at           timestamptz
);
comment on table activation.outbox is 'Every action activation intends to take, keyed by (segment, person, transition, channel, step); written before any provider call and claimed with FOR UPDATE SKIP LOCKED.';
comment on column activation.outbox.outbox_key is 'Idempotency-Key sent to the provider; derived from the action''s identity, never random.';

create index if not exists outbox_due_idx on activation.outbox (channel, next_attempt_at) where status = 'pending';
create index if not exists outbox_batch_idx on activation.outbox (batch_key) where batch_key is not null and status = 'pending';
create index if not exists outbox_person_idx on activation.outbox (person_id, channel, prepared_at);

create table if not exists activation.transition_processed (
    transition_id  bigint primary key,
    processed_at   timestamptz not null default now()
);
comment on table activation.transition_processed is 'Ledger transitions already turned into outbox rows (held ones are not, until approved).';

create table if not exists activation.email_send (
    email_send_id    bigint generated always as identity primary key,
    outbox_key       text not null unique,
    person_id        text not null,
    email            text not null,
    campaign_id      text not null,
    funnel           text not null,
    segment          text,
    template         text not null,
    subject          text not null,
    resend_email_id  text,
    status           text not null check (status in ('sent', 'dry_run', 'failed')),
    error            text,
    qualified_at     timestamptz,
    sent_at          timestamptz not null default now(),
    tags             jsonb not null default '{}'::jsonb
);
comment on table activation.email_send is 'Every email activation sent (or rendered in dry-run); dbt''s email_message reads it as a source.';
create index if not exists email_send_person_idx on activation.email_send (person_id, sent_at);

create table if not exists activation.audience_member (
    audience         text not null,
    person_id        text not null,
    meta_audience_id text,
    added_at         timestamptz not null default now(),
    added_outbox_key text not null,
    removed_at       timestamptz,
    removed_outbox_key text,
    primary key (audience, person_id)
);
comment on table activation.audience_member is 'Persons this system added to a Meta Custom Audience; only these are ever removed.';

create table if not exists activation.sequence_enrollment (
    enrollment_id    bigint generated always as identity primary key,
    sequence         text not null,
    person_id        text not null,
    segment          text,
    transition_id    bigint,
    enrolled_at      timestamptz not null default now(),
    next_step        integer not null default 1,
    next_step_at     timestamptz not null default now(),
    status           text not null default 'active' check (status in ('active', 'completed', 'stopped')),
    stopped_reason   text,
    stopped_at       timestamptz,
    unique (sequence, person_id, transition_id)
);
comment on table activation.sequence_enrollment is 'Outbound sequence state per person: next step and when it is due, or why it stopped.';
create unique index if not exists sequence_enrollment_active_idx
    on activation.sequence_enrollment (sequence, person_id) where status = 'active';

create table if not exists activation.deal_annotation (
    annotation_id  bigint generated always as identity primary key,
    outbox_key     text not null unique,
    person_id      text not null,
    email          text,
    kind           text not null check (kind in ('assigned', 'objection')),
    value          text not null,
    segment        text,
    created_at     timestamptz not null default now()
);
comment on table activation.deal_annotation is 'What activation wrote to a deal (owner assignment, objection tag); dbt''s deal reads it as a source.';

alter table activation.outbox enable row level security;
alter table activation.transition_processed enable row level security;
alter table activation.email_send enable row level security;
alter table activation.audience_member enable row level security;
alter table activation.sequence_enrollment enable row level security;
alter table activation.deal_annotation enable row level security;
