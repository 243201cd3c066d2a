{#- A bound of the 95 % Wilson score interval for a proportion `rate` of `n` trials
    (side -1 lower, +1 upper); null when n is 0. z = 1.959964. -#}
{% macro wilson_bound(rate, n, side) -%}
    (
        ({{ rate }} + 1.959964 ^ 2 / (2 * nullif({{ n }}, 0)))
        + ({{ side }}) * 1.959964 * sqrt({{ rate }} * (1 - {{ rate }}) / nullif({{ n }}, 0) + 1.959964 ^ 2 / (4 * nullif({{ n }}, 0) ^ 2))
    ) / (1 + 1.959964 ^ 2 / nullif({{ n }}, 0))
{%- endmacro %}
