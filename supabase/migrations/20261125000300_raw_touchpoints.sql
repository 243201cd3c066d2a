-- Raw landing for every other touch: PostHog, tracked-link clicks, Meta CAPI relay,
-- identify calls, Cal.com and Calendly bookings, deal moves, imported leads.
-- Same rules as every raw table: the provider's (or a derived) key is unique,
-- `landing_id` orders arrival, the payload is kept whole as jsonb.

create table if not exists raw.posthog_event (
    uuid         text primary key,
    landing_id   bigint generated always as identity unique,
    event_name   text not null,
    distinct_id  text,
    occurred_at  timestamptz,
    via          text not null default 'webhook',  -- webhook | query_api
    received_at  timestamptz not null default now(),
    headers      jsonb not null default '{}'::jsonb,
    payload      jsonb not null
);
comment on table raw.posthog_event is 'PostHog events from the HTTP webhook destination or the query API backfill, keyed by the PostHog event uuid.';

create table if not exists raw.click (
    click_id         text primary key,
    landing_id       bigint generated always as identity unique,
    person_id        text,
    campaign_id      text,
    funnel           text,
    email_id         text,
    destination_url  text,
    ip               text,
    user_agent       text,
    referrer         text,
    fbclid           text,
    utm              jsonb not null default '{}'::jsonb,
    is_bot           boolean not null default false,
    bot_reason       text,
    clicked_at       timestamptz not null default now(),
    received_at      timestamptz not null default now(),
    payload          jsonb not null default '{}'::jsonb
);
comment on table raw.click is 'One row per request to a tracked link /c/<token>; bot and prefetch requests are flagged, not dropped.';

create table if not exists raw.meta_capi_event (
    event_id           text primary key,
    landing_id         bigint generated always as identity unique,
    event_name         text not null,
    event_time         timestamptz not null,
    event_source_url   text,
    action_source      text not null default 'website',
    person_id          text,
    fbp                text,
    fbc                text,
    client_ip          text,
    client_user_agent  text,
    custom_data        jsonb not null default '{}'::jsonb,
    received_at        timestamptz not null default now(),
    payload            jsonb not null
);
comment on table raw.meta_capi_event is 'Conversion events relayed by /api/meta/capi (shared event_id with the browser Pixel); activation delivers them to Meta.';

create table if not exists raw.identify_call (
    identify_id   text primary key,
    landing_id    bigint generated always as identity unique,
    person_id     text,
    email         text,
    distinct_id   text,
    app_user_id   text,
    received_at   timestamptz not null default now(),
    payload       jsonb not null
);
comment on table raw.identify_call is 'Identity reports from the app (/api/identify); key is a hash of the reported identifiers, so a repeat adds nothing.';

create table if not exists raw.cal_event (
    delivery_id    text primary key,
    landing_id     bigint generated always as identity unique,
    trigger_event  text not null,
    received_at    timestamptz not null default now(),
    headers        jsonb not null default '{}'::jsonb,
    payload        jsonb not null
);
comment on table raw.cal_event is 'Cal.com webhooks; Cal sends no delivery id, so the key is derived from trigger, booking uid and createdAt.';

create table if not exists raw.calendly_event (
    delivery_id   text primary key,
    landing_id    bigint generated always as identity unique,
    event_type    text not null,
    received_at   timestamptz not null default now(),
    headers       jsonb not null default '{}'::jsonb,
    payload       jsonb not null
);
comment on table raw.calendly_event is 'Calendly webhooks; key derived from event, invitee uri and created_at.';

create table if not exists raw.deal_event (
    deal_event_id  text primary key,
    landing_id     bigint generated always as identity unique,
    email          text not null,
    stage          text not null,
    note           text,
    objection      text,
    owner          text,
    occurred_at    timestamptz not null default now(),
    via            text not null default 'api',  -- api | cli
    received_at    timestamptz not null default now(),
    payload        jsonb not null default '{}'::jsonb
);
comment on table raw.deal_event is 'Sales pipeline moves from /api/deals/events or `gdp deal move`.';

create table if not exists raw.lead (
    email        text primary key,
    landing_id   bigint generated always as identity unique,
    name         text,
    company      text,
    owner        text,
    source       text,
    imported_at  timestamptz not null default now(),
    received_at  timestamptz not null default now(),
    payload      jsonb not null default '{}'::jsonb
);
comment on table raw.lead is 'Outbound leads imported by `gdp leads import`, one row per normalized email.';

create index if not exists posthog_event_received_at_idx on raw.posthog_event (received_at);
create index if not exists click_received_at_idx on raw.click (received_at);
create index if not exists meta_capi_event_received_at_idx on raw.meta_capi_event (received_at);
create index if not exists identify_call_received_at_idx on raw.identify_call (received_at);
create index if not exists cal_event_received_at_idx on raw.cal_event (received_at);
create index if not exists calendly_event_received_at_idx on raw.calendly_event (received_at);
create index if not exists deal_event_received_at_idx on raw.deal_event (received_at);
create index if not exists lead_received_at_idx on raw.lead (received_at);

alter table raw.posthog_event enable row level security;
alter table raw.click enable row level security;
alter table raw.meta_capi_event enable row level security;
alter table raw.identify_call enable row level security;
alter table raw.cal_event enable row level security;
alter table raw.calendly_event enable row level security;
alter table raw.deal_event enable row level security;
alter table raw.lead enable row level security;
