{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- PostHog (client-asserted: anyone with the public project key can send these):
    identify(personId) makes the distinct id the person id, linked to the anonymous id before it;
    $create_alias; $set.email; the gdp_click_id a tracked link carried to the landing page
    (click ↔ browser); and a distinct id's first and last sighting of the batch (page views are
    most of PostHog: two rows per distinct id, not one per view; the fold's min / max over them
    is what it would be over every view, so batches fold into what a full build gives). -#}
with

posthog as (
    {{ identity_edge_batch(ref('stg_posthog__events'), 'received_at') }}
),

posthog_sightings as (
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        {{ first_by('posthog_event_id', ['occurred_at', 'posthog_event_id']) }} as raw_key,
        max(arrived_at) as arrived_at
    from posthog
    group by 1
),

edges as (
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('posthog_distinct_id', 'anon_distinct_id') }} as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from posthog
    where event_name = '$identify'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('person_id', 'distinct_id') }} as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from posthog
    where event_name = '$identify'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('posthog_distinct_id', 'alias_distinct_id') }} as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from posthog
    where event_name = '$create_alias'
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('email', 'email') }} as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from posthog
    where email is not null
    union all
    select
        {{ identity_key('posthog_distinct_id', 'distinct_id') }} as left_key,
        {{ identity_key('click_id', 'click_id') }} as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        posthog_event_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from posthog
    where click_id is not null
    union all
    select
        left_key,
        null as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        raw_key,
        first_seen_at as seen_at,
        arrived_at
    from posthog_sightings
    union all
    select
        left_key,
        null as right_key,
        'client_asserted' as provenance,
        'posthog_event' as raw_table,
        raw_key,
        last_seen_at as seen_at,
        arrived_at
    from posthog_sightings
),

{{ identity_edge_fold() }}

select * from final
