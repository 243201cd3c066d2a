-- Schemas for landing (raw) and activation state, and Supabase's client roles.
-- On Supabase the roles `anon` and `authenticated` exist already; locally they are
-- created so that the refusal of client access is tested against the same roles.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
end
$$;

create schema if not exists raw;
create schema if not exists activation;

comment on schema raw is 'Provider deliveries exactly as received: append-only, one row per provider id.';
comment on schema activation is 'What activation intends to send and has sent: outbox, send log, sequence state.';

-- Client roles get nothing here: no usage on the schemas, and every table enables
-- row-level security with no policy for them.
revoke all on schema raw from public, anon, authenticated;
revoke all on schema activation from public, anon, authenticated;
alter default privileges in schema raw revoke all on tables from public, anon, authenticated;
alter default privileges in schema activation revoke all on tables from public, anon, authenticated;
