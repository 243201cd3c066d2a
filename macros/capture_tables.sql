{#- The raw tables capture completeness counts, one home for int_capture__raw_rows and
    int_capture__counts: (raw_table as event names it, staging model, key expression,
    arrival column, settled_by). A table "settles" when its arrival column is the landing
    time, so rows older than the newest arrival minus the event lookback are counted once
    and never re-read. settled_by is the relation whose newest arrival sets that mark: the
    raw table itself (its arrival index answers at once; an unreadable row has arrived
    too), the send log's staging model (it stands in for a send log not migrated yet);
    none for auth.users, which has no landing time (signed_up_at is the app's), so its few
    rows are counted again every build. -#}
{% macro capture_tables() -%}
{{ return([
    ('resend_event', 'stg_resend__events', 'svix_id', 'received_at', source('resend', 'resend_event')),
    ('stripe_event', 'stg_stripe__events', 'stripe_event_id', 'received_at', source('stripe', 'stripe_event')),
    ('posthog_event', 'stg_posthog__events', 'posthog_event_id', 'received_at', source('posthog', 'posthog_event')),
    ('click', 'stg_tracking__clicks', 'click_id', 'received_at', source('tracking', 'click')),
    ('meta_capi_event', 'stg_meta__capi_events', 'capi_event_id', 'received_at', source('meta', 'meta_capi_event')),
    ('identify_call', 'stg_app__identify_calls', 'identify_id', 'received_at', source('app', 'identify_call')),
    ('cal_event', 'stg_cal__bookings', 'delivery_id', 'received_at', source('cal', 'cal_event')),
    ('calendly_event', 'stg_calendly__invitee_events', 'delivery_id', 'received_at', source('calendly', 'calendly_event')),
    ('deal_event', 'stg_deals__events', 'deal_event_id', 'received_at', source('deals', 'deal_event')),
    ('lead', 'stg_deals__leads', 'raw_email', 'received_at', source('deals', 'lead')),
    ('auth.users', 'stg_auth__users', 'app_user_id', 'signed_up_at', none),
    ('activation.email_send', 'stg_activation__email_sends', cast_as('email_send_id', 'text'), 'sent_at', ref('stg_activation__email_sends')),
    ('unsubscribe', 'stg_unsubscribe__requests', 'unsubscribe_id', 'received_at', source('unsubscribe', 'unsubscribe')),
]) }}
{%- endmacro %}
