{#- Server-side conversions sent to Meta's Conversions API, one per event whose type
    seed event_vocabulary gives a meta_event_name (the one definition of conversions),
    with its value. meta_event_id is the id Meta deduplicates on: the event_id the page
    minted (gdp.track) and carried through Stripe Checkout's metadata.gdp_event_id when
    there is one, so the Pixel, the relay and this event are one conversion at Meta;
    else the event's own id. Meta refuses events older than 7 days; activation applies
    that window when it queues, so this view keeps the history. -#}
with

event as (
    select * from {{ ref('event') }}
),

meta_event_names as (
    select
        event_type,
        meta_event_name
    from {{ ref('event_vocabulary') }}
    where meta_event_name is not null
),

conversions as (
    select
        event.event_id,
        event.person_id,
        event.event_type,
        meta_event_names.meta_event_name,
        {#- a browser-minted id is a claim: only a UUID is taken, anything else falls back to the event's id -#}
        case
            when event.properties ->> 'gdp_event_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then lower(event.properties ->> 'gdp_event_id')
        end as browser_event_id,
        event.occurred_at,
        event.properties ->> 'amount_cents' as amount_cents_text,
        event.properties ->> 'amount_total' as amount_total_text,
        nullif(event.properties ->> 'currency', '') as currency
    from event
    inner join meta_event_names on event.event_type = meta_event_names.event_type
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
        {#- a replayed id keeps only its first event, so meta_event_id stays unique -#}
        case
            when browser_event_id is not null
                and row_number() over (partition by browser_event_id order by occurred_at, event_id) = 1
                then browser_event_id
            else event_id::text
        end as meta_event_id,
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
