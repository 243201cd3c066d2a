{#- Persons `gdp person forget` tombstoned: any identifier of theirs (or their person id)
    whose sha256 is in raw.forgotten_identifier. person, contact_eligibility and
    activation_recipient anti-join it, so an account still in auth.users (or any source
    that still names them) does not bring them back on a rebuild, full refresh included.
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

final as (
    select
        hashed.person_id,
        min(tombstones.forgotten_at) as forgotten_at
    from hashed
    inner join tombstones on hashed.identifier_hash = tombstones.identifier_hash
    group by hashed.person_id
)

select * from final
