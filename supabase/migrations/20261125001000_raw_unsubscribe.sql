-- Unsubscribe requests from the link in every email (page button or RFC 8058 one-click).
-- One row per (person, campaign): a second click changes nothing.

create table if not exists raw.unsubscribe (
    unsubscribe_id  text primary key,
    landing_id      bigint generated always as identity unique,
    person_id       text not null,
    campaign_id     text not null,
    method          text not null,  -- one_click | page
    user_agent      text,
    received_at     timestamptz not null default now(),
    payload         jsonb not null default '{}'::jsonb
);
comment on table raw.unsubscribe is 'Unsubscribes from signed links in activation emails; dbt turns them into is_unsubscribed.';
create index if not exists unsubscribe_received_at_idx on raw.unsubscribe (received_at);
alter table raw.unsubscribe enable row level security;
