{#- Server-side conversions sent to Meta's Conversions API: events only the server
    sees, each with the Meta standard event it becomes and its value. Browser events
    are relayed as the Pixel sent them (raw.meta_capi_event) and are not here.
    Meta refuses events older than 7 days; activation applies that window when it
    queues, so this view keeps the history. -#}
{%- set meta_event_names = {
    'checkout_completed': 'Purchase',
    'purchased': 'Purchase',
    'subscription_started': 'Subscribe',
    'call_booked': 'Schedule',
} -%}
with

event as (
    select * from {{ ref('event') }}
),

conversions as (
    select
        event_id,
        person_id,
        event_type,
        case event_type
            {%- for event_type, meta_name in meta_event_names.items() %}
                when '{{ event_type }}' then '{{ meta_name }}'
            {%- endfor %}
        end as meta_event_name,
        occurred_at,
        properties ->> 'amount_cents' as amount_cents_text,
        properties ->> 'amount_total' as amount_total_text,
        nullif(properties ->> 'currency', '') as currency
    from event
    where event_type in ('{{ meta_event_names.keys() | join("', '") }}')
),

amounts as (
    select
        *,
        {#- amount_cents wins, amount_total (Stripe checkout) is the fallback; a value that is not a number counts as none -#}
        case when amount_cents_text ~ '^-?\d+(\.\d+)?$' then trunc(amount_cents_text::numeric)::bigint end as amount_cents,
        case when amount_total_text ~ '^-?\d+(\.\d+)?$' then trunc(amount_total_text::numeric)::bigint end as amount_total
    from conversions
),

final as (
    select
        event_id::text as event_id,
        person_id,
        event_type,
        meta_event_name,
        occurred_at,
        coalesce(nullif(amount_cents, 0), nullif(amount_total, 0)) as value_cents,
        case
            when coalesce(nullif(amount_cents, 0), nullif(amount_total, 0)) is not null
                then upper(coalesce(currency, 'usd'))
        end as currency
    from amounts
)

select * from final
