{#-
  What staging reads from raw text as a typed value, per raw table: the one list behind
  `readable_row` (the filter of every staging model that casts) and
  `int_capture__unreadable_rows` (the rows that filter leaves out, with the reason).
  Ingest validates these fields at the door; this keeps a row that got past it (an older
  landing, a backfill, a hand-made insert) from failing the whole build (issue 13).
  Types: timestamp, bigint, integer, numeric, boolean, and epoch (unix seconds, '' is null).
  `checks`: (field, text expression over the raw row, type). `each`: (field, JSON array
  expression, text expression over its element `gdp_element`, type), every element checked.
-#}
{% macro staging_casts() -%}
    {%- set items = json_get('payload', ['data', 'object', 'items', 'data']) -%}
    {%- set attendees = json_get('payload', ['payload', 'attendees']) -%}
    {%- set e = 'gdp_element' -%}
    {{ return({
        'cal_event': {'source': ['cal', 'cal_event'], 'key': 'delivery_id', 'checks': [
            ('createdAt', json_get_text('payload', 'createdAt'), 'timestamp'),
            ('payload.startTime', json_get_text('payload', ['payload', 'startTime']), 'timestamp'),
            ('payload.endTime', json_get_text('payload', ['payload', 'endTime']), 'timestamp'),
        ], 'each': [
            ('payload.attendees[].noShow', attendees, json_get_text(e, 'noShow'), 'boolean'),
        ]},
        'calendly_event': {'source': ['calendly', 'calendly_event'], 'key': 'delivery_id', 'checks': [
            ('created_at', json_get_text('payload', 'created_at'), 'timestamp'),
            ('payload.rescheduled', json_get_text('payload', ['payload', 'rescheduled']), 'boolean'),
            ('payload.scheduled_event.start_time', json_get_text('payload', ['payload', 'scheduled_event', 'start_time']), 'timestamp'),
        ]},
        'deal_event': {'source': ['deals', 'deal_event'], 'key': 'deal_event_id', 'checks': [
            ('amount_cents', json_get_text('payload', 'amount_cents'), 'bigint'),
        ]},
        'meta_capi_event': {'source': ['meta', 'meta_capi_event'], 'key': 'event_id', 'checks': [
            ('custom_data.value', json_get_text('custom_data', 'value'), 'numeric'),
        ]},
        'posthog_event': {'source': ['posthog', 'posthog_event'], 'key': 'uuid', 'checks': [
            ('timestamp', json_get_text('payload', 'timestamp'), 'timestamp'),
        ]},
        'resend_event': {'source': ['resend', 'resend_event'], 'key': 'svix_id', 'checks': [
            ('created_at', json_get_text('payload', 'created_at'), 'timestamp'),
            ('data.created_at', json_get_text('payload', ['data', 'created_at']), 'timestamp'),
            ('data.click.timestamp', json_get_text('payload', ['data', 'click', 'timestamp']), 'timestamp'),
            ('data.unsubscribed', json_get_text('payload', ['data', 'unsubscribed']), 'boolean'),
        ]},
        'stripe_event': {'source': ['stripe', 'stripe_event'], 'key': 'stripe_event_id', 'checks': [
            ('created', json_get_text('payload', 'created'), 'epoch'),
            ('data.object.created', json_get_text('payload', ['data', 'object', 'created']), 'epoch'),
            ('data.object.amount_total', json_get_text('payload', ['data', 'object', 'amount_total']), 'bigint'),
            ('data.object.amount_due', json_get_text('payload', ['data', 'object', 'amount_due']), 'bigint'),
            ('data.object.amount_paid', json_get_text('payload', ['data', 'object', 'amount_paid']), 'bigint'),
            ('data.object.attempt_count', json_get_text('payload', ['data', 'object', 'attempt_count']), 'integer'),
            ('data.object.deleted', json_get_text('payload', ['data', 'object', 'deleted']), 'boolean'),
            ('data.object.cancel_at_period_end', json_get_text('payload', ['data', 'object', 'cancel_at_period_end']), 'boolean'),
            ('data.object.current_period_start', json_get_text('payload', ['data', 'object', 'current_period_start']), 'epoch'),
            ('data.object.current_period_end', json_get_text('payload', ['data', 'object', 'current_period_end']), 'epoch'),
            ('data.object.canceled_at', json_get_text('payload', ['data', 'object', 'canceled_at']), 'epoch'),
            ('data.object.ended_at', json_get_text('payload', ['data', 'object', 'ended_at']), 'epoch'),
            ('data.object.trial_end', json_get_text('payload', ['data', 'object', 'trial_end']), 'epoch'),
        ], 'each': [
            ('data.object.items.data[].price.unit_amount', items, json_get_text(e, ['price', 'unit_amount']), 'bigint'),
            ('data.object.items.data[].plan.amount', items, json_get_text(e, ['plan', 'amount']), 'bigint'),
            ('data.object.items.data[].quantity', items, json_get_text(e, 'quantity'), 'integer'),
            ('data.object.items.data[].price.recurring.interval_count', items, json_get_text(e, ['price', 'recurring', 'interval_count']), 'numeric'),
            ('data.object.items.data[].plan.interval_count', items, json_get_text(e, ['plan', 'interval_count']), 'numeric'),
            ('data.object.items.data[].current_period_start', items, json_get_text(e, 'current_period_start'), 'epoch'),
            ('data.object.items.data[].current_period_end', items, json_get_text(e, 'current_period_end'), 'epoch'),
        ]},
    }) }}
{%- endmacro %}


{#- Whether a text value reads as `type` the way staging casts it (null reads as null). -#}
{% macro is_readable(text_expr, type) -%}
    {%- if type == 'epoch' -%}
({{ text_expr }} is null or {{ text_expr }} = '' or coalesce({{ try_cast_as(text_expr, 'double') }} between -62135596800 and 253402300799, false))
    {%- elif type == 'timestamp' -%}
({{ text_expr }} is null or coalesce({{ try_cast_as(text_expr, 'timestamp') }} between {{ cast_as("'0001-01-01 00:00:00'", 'timestamp') }} and {{ cast_as("'9999-12-31 23:59:59'", 'timestamp') }}, false))
    {%- else -%}
({{ text_expr }} is null or {{ try_cast_as(text_expr, type) }} is not null)
    {%- endif -%}
{%- endmacro %}


{% macro unreadable_reason(type) -%}
{{ return({'epoch': 'not unix seconds', 'timestamp': 'not a timestamp', 'boolean': 'not a boolean'}.get(type, 'not a number')) }}
{%- endmacro %}


{#- The filter of a staging model over `raw_table`'s rows: every field it casts reads
    (a conjunction of parenthesized checks, so it may be and-ed with other conditions). -#}
{% macro readable_row(raw_table) -%}
    {%- set spec = staging_casts()[raw_table] -%}
    {%- set checks = [] -%}
    {%- for field, expr, type in spec.checks -%}
        {%- do checks.append(is_readable(expr, type)) -%}
    {%- endfor -%}
    {%- for field, array_expr, expr, type in spec.get('each', []) -%}
        {%- do checks.append('not ' ~ json_array_any(array_expr, 'gdp_element', 'not ' ~ is_readable(expr, type))) -%}
    {%- endfor -%}
    {{ checks | join(' and ') }}
{%- endmacro %}
