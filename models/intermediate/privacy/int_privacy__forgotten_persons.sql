{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- Persons `gdp person forget` tombstoned: any identifier of theirs (or their person id)
    whose sha256 is in raw.forgotten_identifier; canonical ids and their aliases.
    person, contact_eligibility and activation_recipient anti-join it, so an account
    still in auth.users (or any source that still names them) does not bring them
    back on a rebuild, full refresh included.
    A view: activation reads it live, so a tombstone written after a build stops sends.
    It looks the few tombstones up in the hashes int_privacy__identity_hashes keeps
    (indexed), so a read costs the tombstones, not the identity graph. -#}
with

known_hashes as (
    select * from {{ ref('int_privacy__identity_hashes') }}
),

tombstones as (
    select * from {{ source('privacy', 'forgotten_identifier') }}
),

matched as (
    select
        known_hashes.person_id,
        tombstones.forgotten_at
    from tombstones
    inner join known_hashes on tombstones.identifier_hash = known_hashes.identifier_hash
    union all
    select
        known_hashes.person_id,
        tombstones.forgotten_at
    from tombstones
    inner join known_hashes on tombstones.identifier_hash = known_hashes.person_id_hash
),

person_ids as (
    {#- their aliases too: outbox rows and raw relays may carry an older person id -#}
    select
        person_id,
        forgotten_at
    from matched
    union all
    select
        known_hashes.named_person_id as person_id,
        matched.forgotten_at
    from matched
    inner join known_hashes on matched.person_id = known_hashes.person_id
    where known_hashes.named_person_id is not null
),

final as (
    select
        person_id,
        min(forgotten_at) as forgotten_at
    from person_ids
    group by person_id
)

select * from final
