{#- The contract's types are Postgres names; on Spark the parity test (tests/spark/test_identity.py) checks the rows. -#}
{{ config(contract={'enforced': target.type != 'spark'}) }}
{#- Every identifier (type, value) and every alias -> canonical person_id.
    Alias rows are person ids that no longer name a person: person ids seen in
    tags/links/cookies whose component is named by an older identifier, and the
    ids that would have been derived from any younger identifier before a merge.
    So an id already sent in an email tag keeps resolving after its person merged. -#}
with

resolved as (
    select * from {{ ref('int_identity__resolved') }}
),

identifiers as (
    select
        identity_key,
        identifier_type,
        identifier_value,
        person_id,
        case
            when identifier_type = 'person_id' and identifier_value <> person_id then 'alias'
            else 'identifier'
        end as link_type,
        component_id,
        component_size,
        is_quarantined,
        is_verified,
        first_seen_at,
        last_seen_at,
        first_raw_table,
        first_raw_key
    from resolved
),

derived_aliases as (
    select
        'person_id:' || {{ derived_person_id('resolved.identity_key') }} as identity_key,
        'person_id' as identifier_type,
        {{ derived_person_id('resolved.identity_key') }} as identifier_value,
        resolved.person_id,
        'derived_alias' as link_type,
        resolved.component_id,
        resolved.component_size,
        resolved.is_quarantined,
        false as is_verified,
        resolved.first_seen_at,
        resolved.last_seen_at,
        resolved.first_raw_table,
        resolved.first_raw_key
    from resolved
    where resolved.identifier_type <> 'person_id'
        and {{ derived_person_id('resolved.identity_key') }} <> resolved.person_id
        and not exists (
            select 1 from resolved as explicit
            where explicit.identity_key = 'person_id:' || {{ derived_person_id('resolved.identity_key') }}
        )
),

unioned as (
    select * from identifiers
    union all
    select * from derived_aliases
),

final as (
    select
        identity_key,
        identifier_type,
        identifier_value,
        person_id,
        link_type,
        link_type <> 'identifier' as is_alias,
        component_id,
        component_size,
        is_quarantined,
        is_verified,
        first_seen_at,
        last_seen_at,
        first_raw_table as proved_by_raw_table,
        first_raw_key as proved_by_raw_key
    from unioned
)

select * from final
