{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='identity_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[
        {'columns': ['identity_key'], 'unique': true},
        {'columns': ['identifier_hash']},
        {'columns': ['person_id_hash']},
        {'columns': ['person_id']},
        {'columns': ['changed_at']},
    ],
    post_hook="{% if is_incremental() %}delete from {{ this }} as known_hashes where not exists (select 1 from {{ ref('identity_link') }} as link where link.identity_key = known_hashes.identity_key){% endif %}",
) }}
{#- The sha256 of every identity_link row's identifier and person id, as the tombstones
    `gdp person forget` writes are keyed, so int_privacy__forgotten_persons finds tombstoned
    persons by index lookups instead of hashing every identifier on every read.
    Incremental: a build hashes only the identity_link rows that are new or now name
    another person (delete+insert on identity_key); its post-hook drops the rows whose
    identifier left identity_link. Forget deletes the rows that name the person here too,
    as it does in identity_link, so both stay alike. On Spark (parquet: no delete) a table
    rebuilt whole each cycle, so the DML post-hook, incremental only, renders nothing there. -#}
with

identity_link as (
    select * from {{ ref('identity_link') }}
),

changed as (
    {%- if is_incremental() %}
        select
            identity_link.identity_key,
            identity_link.person_id,
            identity_link.identifier_type,
            identity_link.identifier_value,
            hashed.person_id as previous_person_id
        from identity_link
        left join {{ this }} as hashed on identity_link.identity_key = hashed.identity_key
        where hashed.person_id is null or hashed.person_id <> identity_link.person_id
    {%- else %}
        select
            identity_key,
            person_id,
            identifier_type,
            identifier_value,
            {{ typed_null('text') }} as previous_person_id
        from identity_link
    {%- endif %}
),

final as (
    select
        identity_key,
        person_id,
        {{ sha256_hex('identifier_value') }} as identifier_hash,
        {{ sha256_hex('person_id') }} as person_id_hash,
        case when identifier_type = 'person_id' then identifier_value end as named_person_id,
        previous_person_id,
        {{ cast_as(text_literal(run_started_at), 'timestamp') }} as changed_at
    from changed
)

select * from final
