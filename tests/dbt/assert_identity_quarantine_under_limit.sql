{#- Identity quarantine size: more quarantined components than var
    identity_quarantine_max means the identity graph is being polluted (a shared inbox,
    a bot cookie), so person ids, and who gets which email, cannot be trusted.
    Fails the build, so neither `gdp refresh` nor Dagster records or sends that cycle. -#}
with

quarantine as (
    select * from {{ ref('int_identity__quarantine') }}
),

final as (
    select
        count(*) as quarantined_components,
        coalesce(sum(quarantine.component_size), 0) as quarantined_identifiers,
        {{ var('identity_quarantine_max') }} as quarantine_limit
    from quarantine
    having count(*) > {{ var('identity_quarantine_max') }}
)

select * from final
