with

source as (
    select * from {{ source('activation', 'deal_annotation') }}
),

final as (
    select
        annotation_id,
        outbox_key,
        nullif(btrim(person_id), '') as person_id,
        {{ normalize_identifier('email', 'email') }} as email,
        kind,
        btrim(value) as value,
        segment,
        created_at as annotated_at
    from source
)

select * from final
