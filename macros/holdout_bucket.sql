{#- A number in [0, 1) fixed for (segment, person): the first 8 bytes of
    sha256(segment || chr(31) || person_id) read as an unsigned big-endian integer,
    divided by 2^64. Below a segment's holdout_share means held out. Two 32-bit halves
    because Postgres has no unsigned 64-bit integer; the double division matches the
    assignment activation used before this lived in dbt, so nobody changes group. -#}
{% macro holdout_bucket(segment, person_id) -%}
    (
        (
            ('x' || substr(encode(sha256(convert_to({{ segment }} || chr(31) || {{ person_id }}, 'UTF8')), 'hex'), 1, 8))::bit(32)::bigint::numeric
            * 4294967296
            + ('x' || substr(encode(sha256(convert_to({{ segment }} || chr(31) || {{ person_id }}, 'UTF8')), 'hex'), 9, 8))::bit(32)::bigint::numeric
        )::double precision
        / 18446744073709551616::double precision
    )
{%- endmacro %}
