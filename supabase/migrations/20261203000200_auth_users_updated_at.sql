-- auth.users.updated_at: Supabase Auth sets it on every change of an account, and dbt reads it
-- to recompute only the persons whose account changed (int_persons__profile). The local
-- stand-in (20261125000400) lacked it: it gets the column, kept current by a trigger as
-- Supabase Auth would (unless the update sets it), and an index for the newest value. Supabase's own table has the
-- column already and is left alone.

do $$
begin
    if not exists (
        select 1 from information_schema.columns
        where table_schema = 'auth' and table_name = 'users' and column_name = 'updated_at'
    ) then
        alter table auth.users add column updated_at timestamptz not null default now();
        create index users_updated_at_idx on auth.users (updated_at);
        create function auth.users_touch_updated_at() returns trigger
            language plpgsql
            as $body$
            begin
                if new.updated_at is not distinct from old.updated_at then
                    new.updated_at := now();
                end if;
                return new;
            end
            $body$;
        create trigger users_touch_updated_at before update on auth.users
            for each row execute function auth.users_touch_updated_at();
    end if;
end
$$;
