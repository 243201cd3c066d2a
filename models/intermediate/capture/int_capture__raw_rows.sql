{#- Every raw row of every source, by (raw_table, raw_key): the denominator of
    "100 % of touches captured". -#}
{%- set tables = [
    ('resend_event', 'stg_resend__events', 'svix_id', 'received_at'),
    ('stripe_event', 'stg_stripe__events', 'stripe_event_id', 'received_at'),
    ('posthog_event', 'stg_posthog__events', 'posthog_event_id', 'received_at'),
    ('click', 'stg_tracking__clicks', 'click_id', 'received_at'),
    ('meta_capi_event', 'stg_meta__capi_events', 'capi_event_id', 'received_at'),
    ('identify_call', 'stg_app__identify_calls', 'identify_id', 'received_at'),
    ('cal_event', 'stg_cal__bookings', 'delivery_id', 'received_at'),
    ('calendly_event', 'stg_calendly__invitee_events', 'delivery_id', 'received_at'),
    ('deal_event', 'stg_deals__events', 'deal_event_id', 'received_at'),
    ('lead', 'stg_deals__leads', 'raw_email', 'received_at'),
    ('auth.users', 'stg_auth__users', 'app_user_id', 'signed_up_at'),
    ('activation.email_send', 'stg_activation__email_sends', cast_as('email_send_id', 'text'), 'sent_at'),
    ('unsubscribe', 'stg_unsubscribe__requests', 'unsubscribe_id', 'received_at'),
] %}
with

{% for raw_table, model, key, received in tables -%}
    {{ model }} as (
        select
            '{{ raw_table }}' as raw_table,
            {{ key }} as raw_key,
            {{ received }}
        from {{ ref(model) }}
    ),
{% endfor %}

final as (
    {%- for raw_table, model, key, received in tables %}
        select * from {{ model }}
        {%- if not loop.last %}
            union all{% endif %}
    {%- endfor %}
)

select * from final
