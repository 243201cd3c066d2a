{#- Every raw row of every source, once, with its vocabulary event_type or the
    reason it is not an event. The vocabulary mapping is the seed `event_type_map`
    (plus the PostHog seeds applied in int_events__posthog). -#}
with

{%- set sources = [
    'int_events__resend', 'int_events__stripe', 'int_events__posthog', 'int_events__tracking', 'int_events__meta_capi',
    'int_events__bookings', 'int_events__sales', 'int_events__app', 'int_events__activation', 'int_events__unsubscribe',
] %}
{% for name in sources %}
    {{ name.replace('int_events__', '') }} as (
        select * from {{ ref(name) }}
    ),
{% endfor %}

event_type_map as (
    select * from {{ ref('event_type_map') }}
),

unioned as (
    {%- for name in sources %}
        select * from {{ name.replace('int_events__', '') }}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
),

final as (
    select
        unioned.event_id,
        unioned.source,
        unioned.raw_table,
        unioned.raw_key,
        unioned.landing_id,
        unioned.received_at,
        unioned.occurred_at,
        unioned.source_event,
        case when unioned.excluded_reason is null then coalesce(
                    unioned.event_type,
                    event_type_map.event_type,
                    case when unioned.source = 'meta_capi' then 'capi_other' end
                )
        end as event_type,
        unioned.identity_key,
        unioned.campaign_id,
        unioned.funnel,
        unioned.email_id,
        unioned.properties,
        coalesce(
            unioned.excluded_reason,
            case when coalesce(
                        unioned.event_type, event_type_map.event_type, case when unioned.source = 'meta_capi' then 'capi_other' end
                    ) is null
                    then 'unmapped source event: ' || unioned.source || ' ' || coalesce(unioned.source_event, '(none)')
            end
        ) as excluded_reason
    from unioned
    left join event_type_map
        on unioned.source = event_type_map.source
            and unioned.source_event = event_type_map.source_event
)

select * from final
