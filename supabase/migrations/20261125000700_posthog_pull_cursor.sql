-- Where `gdp posthog pull` stopped, per PostHog project: the (timestamp, uuid)
-- of the last event landed. It is updated in the same transaction as the page
-- of events it describes, so a crash never skips or loses a page, and a re-run
-- resumes instead of starting over.

create table if not exists raw.posthog_pull_cursor (
    project_id      text primary key,
    last_timestamp  timestamptz not null,
    last_uuid       text not null,
    updated_at      timestamptz not null default now()
);
comment on table raw.posthog_pull_cursor is 'Resume point of the PostHog query-API backfill (gdp posthog pull), one row per project.';

alter table raw.posthog_pull_cursor enable row level security;
