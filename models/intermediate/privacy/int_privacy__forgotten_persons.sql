{#- Persons `gdp person forget` tombstoned: any identifier of theirs (or their person id)
    whose sha256 is in raw.forgotten_identifier; canonical ids and their aliases.
    person, contact_eligibility and activation_recipient anti-join it, so an account
    still in auth.users (or any source that still names them) does not bring them
    back on a rebuild, full refresh included.
    A view: activation reads it live, so a tombstone written after a build stops sends. -#}
with

identity_link as (
    select * from {{ ref('identity_link') }}
),

tombstones as (
    select * from {{ source('privacy', 'forgotten_identifier') }}
),

hashed as (
    select
        person_id,
        {{ sha256_hex('identifier_value') }} as identifier_hash
    from identity_link
    union all
    select distinct
        person_id,
        {{ sha256_hex('person_id') }} as identifier_hash
    from identity_link
),

matched as (
    select
        hashed.person_id,
        min(tombstones.forgotten_at) as forgotten_at
    from hashed
    inner join tombstones on hashed.identifier_hash = tombstones.identifier_hash
    group by hashed.person_id
),

person_ids as (
    {#- their aliases too: outbox rows and raw relays may carry an older person id -#}
    select
        person_id,
        forgotten_at
    from matched
    union all
    select
        identity_link.identifier_value as person_id,
        matched.forgotten_at
    from identity_link
    inner join matched on identity_link.person_id = matched.person_id
    where identity_link.identifier_type = 'person_id'
),

final as (
    select
        person_id,
        min(forgotten_at) as forgotten_at
    from person_ids
    group by person_id
)

select * from final
