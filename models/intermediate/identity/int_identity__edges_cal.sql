{{ config(materialized=('table' if target.type == 'spark' else 'incremental'), unique_key='edge_key', incremental_strategy='delete+insert', indexes=[{'columns': ['edge_key'], 'unique': true}]) }}
{#- Cal.com bookings (signed webhooks, verified): the attendee is a sighting. -#}
with

cal as (
    {{ identity_edge_batch(ref('stg_cal__bookings'), 'received_at') }}
),

edges as (
    select
        {{ identity_key('email', 'attendee_email') }} as left_key,
        {{ typed_null('text') }} as right_key,
        'verified' as provenance,
        'cal_event' as raw_table,
        delivery_id as raw_key,
        occurred_at as seen_at,
        arrived_at
    from cal
),

{{ identity_edge_fold() }}

select * from final
