-- The key of derived person ids (macros/identity.sql derived_person_id): a person named
-- from an identifier gets 'p_' + a keyed hash of it, so nobody can compute a person's id
-- from their email address. Generated once per database from the server's strong random
-- source (gen_random_uuid), so every rebuild derives the same ids; it never appears in SQL
-- text or logs. Rotating it renames every derived person: do not.
create table if not exists raw.person_id_key (
    singleton boolean primary key default true check (singleton),
    key text not null
);
comment on table raw.person_id_key is 'Secret key of derived person ids; one row, generated at migration.';
alter table raw.person_id_key enable row level security;
revoke all on raw.person_id_key from public, anon, authenticated;

insert into raw.person_id_key (key)
select replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
on conflict (singleton) do nothing;
