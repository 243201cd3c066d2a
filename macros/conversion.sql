{#- A conversion is an event type seeds/event_vocabulary.csv marks `is_conversion` (the one
    definition: person, attribution and the Meta conversion mart read the same seed).
    int_attribution__conversions counts each once per order or deal: a checkout that starts a
    subscription is one conversion, the checkout; a deal is won once however many won moves it has. -#}
{% macro is_conversion(event_type) -%}
    ({{ event_type }} in (select vocabulary.event_type from {{ ref('event_vocabulary') }} as vocabulary where vocabulary.is_conversion))
{%- endmacro %}
