-- Supabase keeps app users in auth.users. Locally (embedded or plain Postgres)
-- there is no such table, so a stand-in with only the columns dbt reads is made;
-- on Supabase the real table exists and this migration leaves it alone.

do $$
begin
    if not exists (
        select 1 from information_schema.tables where table_schema = 'auth' and table_name = 'users'
    ) then
        create schema if not exists auth;
        create table auth.users (
            id                  uuid primary key,
            email               text,
            created_at          timestamptz not null default now(),
            last_sign_in_at     timestamptz,
            raw_user_meta_data  jsonb not null default '{}'::jsonb
        );
        alter table auth.users enable row level security;
        revoke all on schema auth from public, anon, authenticated;
    end if;
end
$$;
