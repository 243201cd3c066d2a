-- Which landings `gdp person forget` deleted, so that copies of `raw` kept elsewhere (the
-- Spark warehouse's parquet tables, gdp/raw_copy.py) delete them too. One row per deleted
-- landing, written in forget's own transaction from `delete ... returning`; no personal
-- data: the table's name, the landing's id and arrival (the copy's partition), the request.
-- `deleted_landing_id` / `deleted_received_at`, not `landing_id`: the sensor's watermarks and
-- the raw copy take any raw table with a `landing_id` column for a landing.

create table if not exists raw.forgotten_landing (
    record_id            bigint generated always as identity primary key,  -- the copies' watermark
    source_table         text not null,         -- the raw table the landing was deleted from
    deleted_landing_id   bigint not null,
    deleted_received_at  timestamptz not null,
    request_id           text not null,         -- raw.forgotten_identifier.request_id of the same run
    recorded_at          timestamptz not null default now()
);
comment on table raw.forgotten_landing is 'Landings gdp forget deleted (table, landing id, received_at): copies of raw delete them too. No personal data.';

alter table raw.forgotten_landing enable row level security;
revoke all on raw.forgotten_landing from public, anon, authenticated;
