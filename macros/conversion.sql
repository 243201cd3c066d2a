{#- The one definition of a conversion, for every model that counts them (attribution,
    person, the Meta conversion mart): the event types below, counted once per order or
    deal by int_attribution__conversions (a checkout that starts a subscription is one
    conversion: the checkout; a deal is won once however many won moves it has). -#}
{% macro conversion_event_types() -%}
    ('checkout_completed', 'subscription_started', 'deal_won')
{%- endmacro %}

{% macro is_conversion(event_type) -%}
    ({{ event_type }} in {{ conversion_event_types() }})
{%- endmacro %}
