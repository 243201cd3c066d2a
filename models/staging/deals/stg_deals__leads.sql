with

source as (
    select * from {{ source('deals', 'lead') }}
),

final as (
    select
        email as raw_email,
        {{ normalize_identifier('email', 'email') }} as email,
        landing_id,
        received_at,
        imported_at,
        nullif(btrim(name), '') as lead_name,
        nullif(btrim(company), '') as company,
        nullif(btrim(owner), '') as owner,
        nullif(btrim(source), '') as lead_source,
        {#- the CSV row as exported: CRMs name these columns phone and country -#}
        nullif(btrim({{ json_get_text('payload', ['row', 'phone']) }}), '') as phone,
        nullif(btrim({{ json_get_text('payload', ['row', 'country']) }}), '') as country
    from source
)

select * from final
