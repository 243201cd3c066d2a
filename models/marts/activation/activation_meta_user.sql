{#- What Meta's Conversions API can match a person by (its customer information
    parameters, named as Meta names them), one row per person, before hashing:
    activation normalizes and hashes em, ph, fn, ln, ct, st, zp, country and
    external_id per Meta's rules (activation/meta_hashing.py) and sends fbp, fbc,
    client_ip_address and client_user_agent as they are.

    Browser signals come from the person's newest relayed Pixel event; fbc, when no
    relayed event carried one, is built from the newest human click's fbclid as Meta
    documents it: fb.1.<click time in ms>.<fbclid>. -#}
with

recipient as (
    select * from {{ ref('activation_recipient') }}
),

person as (
    select * from {{ ref('person') }}
),

identity_link as (
    select * from {{ ref('identity_link') }}
),

capi_events as (
    select * from {{ ref('stg_meta__capi_events') }}
    where person_id is not null
),

clicks as (
    select * from {{ ref('stg_tracking__clicks') }}
    where person_id is not null and not is_bot
),

browser_events as (
    select
        coalesce(identity_link.person_id, capi_events.person_id) as person_id,
        capi_events.fbp,
        capi_events.fbc,
        capi_events.client_ip,
        capi_events.client_user_agent,
        capi_events.occurred_at
    from capi_events
    left join identity_link on identity_link.identity_key = {{ identity_key('person_id', 'capi_events.person_id') }}
),

human_clicks as (
    select
        coalesce(identity_link.person_id, clicks.person_id) as person_id,
        clicks.fbclid,
        clicks.ip,
        clicks.user_agent,
        clicks.clicked_at
    from clicks
    left join identity_link on identity_link.identity_key = {{ identity_key('person_id', 'clicks.person_id') }}
),

browser as (
    select
        person_id,
        (array_agg(fbp order by occurred_at desc) filter (where fbp is not null))[1] as fbp,
        (array_agg(fbc order by occurred_at desc) filter (where fbc is not null))[1] as fbc,
        (array_agg(client_ip order by occurred_at desc) filter (where client_ip is not null))[1] as client_ip_address,
        (array_agg(client_user_agent order by occurred_at desc) filter (where client_user_agent is not null))[1]
            as client_user_agent
    from browser_events
    group by person_id
),

click_signals as (
    select
        person_id,
        (array_agg(
            'fb.1.' || (extract(epoch from clicked_at) * 1000)::bigint || '.' || fbclid order by clicked_at desc
        ) filter (where fbclid is not null))[1] as fbc,
        (array_agg(ip order by clicked_at desc) filter (where ip is not null))[1] as client_ip_address,
        (array_agg(user_agent order by clicked_at desc) filter (where user_agent is not null))[1] as client_user_agent
    from human_clicks
    group by person_id
),

names as (
    select
        person_id,
        (regexp_match(btrim(name), '^(\S+)'))[1] as first_name,
        (regexp_match(btrim(name), '\s(\S+)$'))[1] as last_name
    from person
),

final as (
    select
        person.person_id,
        recipient.email as em,
        person.phone as ph,
        names.first_name as fn,
        names.last_name as ln,
        person.city as ct,
        person.state as st,
        person.postal_code as zp,
        lower(person.country) as country,
        person.person_id as external_id,
        browser.fbp,
        coalesce(browser.fbc, click_signals.fbc) as fbc,
        coalesce(browser.client_ip_address, click_signals.client_ip_address) as client_ip_address,
        coalesce(browser.client_user_agent, click_signals.client_user_agent) as client_user_agent
    from person
    left join recipient on person.person_id = recipient.person_id
    left join names on person.person_id = names.person_id
    left join browser on person.person_id = browser.person_id
    left join click_signals on person.person_id = click_signals.person_id
)

select * from final
