{#- The raw tables capture completeness counts, one home for int_capture__raw_rows and
    int_capture__counts: (raw_table as event names it, staging model, key expression,
    arrival column, settles). A table "settles" when its arrival column is the landing
    time, so rows older than the newest arrival minus the event lookback are counted once
    and never re-read; auth.users has no landing time (signed_up_at is the app's), so its
    few rows are counted again every build. -#}
{% macro capture_tables() -%}
{{ return([
    ('resend_event', 'stg_resend__events', 'svix_id', 'received_at', true),
    ('stripe_event', 'stg_stripe__events', 'stripe_event_id', 'received_at', true),
    ('posthog_event', 'stg_posthog__events', 'posthog_event_id', 'received_at', true),
    ('click', 'stg_tracking__clicks', 'click_id', 'received_at', true),
    ('meta_capi_event', 'stg_meta__capi_events', 'capi_event_id', 'received_at', true),
    ('identify_call', 'stg_app__identify_calls', 'identify_id', 'received_at', true),
    ('cal_event', 'stg_cal__bookings', 'delivery_id', 'received_at', true),
    ('calendly_event', 'stg_calendly__invitee_events', 'delivery_id', 'received_at', true),
    ('deal_event', 'stg_deals__events', 'deal_event_id', 'received_at', true),
    ('lead', 'stg_deals__leads', 'raw_email', 'received_at', true),
    ('auth.users', 'stg_auth__users', 'app_user_id', 'signed_up_at', false),
    ('activation.email_send', 'stg_activation__email_sends', cast_as('email_send_id', 'text'), 'sent_at', true),
    ('unsubscribe', 'stg_unsubscribe__requests', 'unsubscribe_id', 'received_at', true),
]) }}
{%- endmacro %}
