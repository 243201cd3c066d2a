-- The membership ledger: the contract between segments (dbt) and activation.
-- It lives outside dbt's schema so it keeps its history when every dbt relation
-- is rebuilt. Each pipeline cycle compares dbt's current `segment_member` with
-- `activation.segment_membership` (the last recorded state) and appends the
-- differences to `activation.membership_transition`.

create table if not exists activation.pipeline_cycle (
    cycle_id     text primary key,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    status       text not null default 'running'  -- running | succeeded | failed
);

create table if not exists activation.segment_membership (
    segment      text not null,
    person_id    text not null,
    entered_at   timestamptz not null,
    cycle_id     text not null,
    context      jsonb not null default '{}'::jsonb,
    primary key (segment, person_id)
);
comment on table activation.segment_membership is 'Membership as of the last recorded cycle; the ledger diffs dbt''s segment_member against it.';

create table if not exists activation.membership_transition (
    transition_id          bigint generated always as identity primary key,
    cycle_id               text not null,
    segment                text not null,
    person_id              text not null,
    transition             text not null check (transition in ('entered', 'exited', 'merged')),
    merged_into_person_id  text,
    segment_version        text,
    qualified_at           timestamptz,
    recorded_at            timestamptz not null default now(),
    context                jsonb not null default '{}'::jsonb,
    is_held                boolean not null default false,
    approved_at            timestamptz,
    unique (cycle_id, segment, person_id, transition)
);
comment on table activation.membership_transition is 'Append-only ledger: entered / exited / merged per (segment, person) per cycle. Held rows (blast-radius guard) wait for `gdp segments approve`.';
create index if not exists membership_transition_segment_idx on activation.membership_transition (segment, cycle_id);

alter table activation.pipeline_cycle enable row level security;
alter table activation.segment_membership enable row level security;
alter table activation.membership_transition enable row level security;
