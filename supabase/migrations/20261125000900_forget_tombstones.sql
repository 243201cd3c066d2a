-- Right to be forgotten: `gdp person forget` deletes a person's rows and records here a
-- SHA-256 of each of their normalized identifiers (email lowercased and trimmed, other ids
-- trimmed), never the identifier itself. The ingest app checks every landing against this
-- table and acknowledges, but does not store, a delivery naming a forgotten identifier, so
-- providers that keep retrying (or keep sending) do not bring the person back.

create table if not exists raw.forgotten_identifier (
    identifier_hash  text primary key check (identifier_hash ~ '^[0-9a-f]{64}$'),
    identifier_type  text not null,  -- email | person_id | posthog_distinct_id | stripe_customer | app_user_id | ...
    forgotten_at     timestamptz not null default now(),
    request_id       text not null   -- one id per `gdp person forget` run, to list what one request covered
);
comment on table raw.forgotten_identifier is 'Tombstones of forgotten persons: sha256 of each normalized identifier; deliveries naming one are dropped at landing.';

alter table raw.forgotten_identifier enable row level security;
revoke all on raw.forgotten_identifier from public, anon, authenticated;
