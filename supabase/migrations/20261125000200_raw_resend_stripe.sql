-- Raw landing for Resend (Svix-signed) and Stripe webhooks.
-- The provider's own id is the primary key, so a redelivery is a no-op.
-- `landing_id` orders rows by arrival for incremental dbt and the Dagster sensor.

create table if not exists raw.resend_event (
    svix_id      text primary key,
    landing_id   bigint generated always as identity unique,
    event_type   text not null,
    received_at  timestamptz not null default now(),
    headers      jsonb not null default '{}'::jsonb,
    payload      jsonb not null
);
comment on table raw.resend_event is 'Resend webhook deliveries, keyed by svix-id (stable across redeliveries).';
comment on column raw.resend_event.headers is 'Delivery headers kept for audit (svix-id, svix-timestamp, user-agent); never signatures or secrets.';

create table if not exists raw.stripe_event (
    stripe_event_id text primary key,
    landing_id      bigint generated always as identity unique,
    event_type      text not null,
    livemode        boolean not null default false,
    received_at     timestamptz not null default now(),
    headers         jsonb not null default '{}'::jsonb,
    payload         jsonb not null
);
comment on table raw.stripe_event is 'Stripe webhook events, keyed by the Stripe event id.';

create index if not exists resend_event_received_at_idx on raw.resend_event (received_at);
create index if not exists stripe_event_received_at_idx on raw.stripe_event (received_at);

alter table raw.resend_event enable row level security;
alter table raw.stripe_event enable row level security;
