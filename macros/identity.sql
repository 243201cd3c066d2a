{#
  Identifier normalization lives here and only here: every model that reads an
  email, a PostHog distinct id, a Stripe customer or a person id passes it through
  `normalize_identifier`, so the same person never becomes two nodes because one
  source wrote `Ada@X.org ` and another `ada@x.org`.
  Placeholders (var `identity_placeholder_values`, and for emails the LIKE patterns in
  `identity_placeholder_email_patterns`) normalize to null and therefore never link.
#}

{#- The one normalization, as an expression: a call of the function below, so an
    expensive email regex runs once per value instead of once per CASE branch. -#}
{% macro normalize_identifier(identifier_type, expr) -%}
{{ target.schema }}.gdp_normalize_identifier('{{ identifier_type }}', {{ cast_as(expr, 'text') }})
{%- endmacro %}


{#- Creates that function (on-run-start, so it always carries the current vars):
    emails "Ada <Ada@X.org> " -> ada@x.org, other identifiers trimmed; placeholders,
    deny-listed values and malformed emails -> null. -#}
{% macro create_identity_functions() -%}
    {{ return(adapter.dispatch('create_identity_functions', 'gdp')()) }}
{%- endmacro %}

{% macro default__create_identity_functions() -%}
create schema if not exists {{ target.schema }};
create or replace function {{ target.schema }}.gdp_normalize_identifier(identifier_type text, value text)
returns text
language plpgsql immutable parallel safe
as $normalize$
declare
    normalized text;
begin
    if value is null then
        return null;
    end if;
    if identifier_type = 'email' then
        normalized := lower(btrim(coalesce(substring(value from '<([^<>]+)>'), value)));
    else
        normalized := btrim(value);
    end if;
    if normalized = '' or lower(normalized) = any (array[
        {%- for v in var('identity_placeholder_values') %}'{{ v | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    ]::text[]) then
        return null;
    end if;
    if identifier_type = 'email' then
        if normalized !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
            return null;
        end if;
        if normalized like any (array[
            {%- for p in var('identity_placeholder_email_patterns') %}'{{ p | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        ]::text[]) then
            return null;
        end if;
    end if;
    return normalized;
end
$normalize$;
{%- endmacro %}


{#- Spark: the same rules as SQL functions (Spark 4 SQL UDFs hold one expression each, so the
    candidate and the checks are two functions). One statement per call, as Spark runs them. -#}
{% macro spark__create_identity_functions() -%}
{%- set placeholders = var('identity_placeholder_values') -%}
{%- set patterns = var('identity_placeholder_email_patterns') -%}
{%- do run_query('create schema if not exists ' ~ target.schema) -%}
{%- set candidate -%}
create or replace function {{ target.schema }}.gdp_identifier_candidate(identifier_type string, value string)
returns string
return case
    when identifier_type = 'email' then lower(trim(coalesce({{ regexp_extract_group('value', '<([^<>]+)>') }}, value)))
    else trim(value)
end
{%- endset -%}
{%- do run_query(candidate) -%}
{%- set checked -%}
create or replace function {{ target.schema }}.gdp_identifier_checked(identifier_type string, normalized string)
returns string
return case
    when normalized is null or normalized = '' then null
    {%- if placeholders %}
    when lower(normalized) in ({% for v in placeholders %}{{ text_literal(v) }}{% if not loop.last %}, {% endif %}{% endfor %}) then null
    {%- endif %}
    when identifier_type = 'email' and not {{ regexp_matches('normalized', '^[^@\s]+@[^@\s]+\.[^@\s]+$') }} then null
    {%- if patterns %}
    when identifier_type = 'email' and normalized like any ({% for p in patterns %}{{ text_literal(p) }}{% if not loop.last %}, {% endif %}{% endfor %}) then null
    {%- endif %}
    else normalized
end
{%- endset -%}
{%- do run_query(checked) -%}
create or replace function {{ target.schema }}.gdp_normalize_identifier(identifier_type string, value string)
returns string
return {{ target.schema }}.gdp_identifier_checked(identifier_type, {{ target.schema }}.gdp_identifier_candidate(identifier_type, value))
{%- endmacro %}


{#- `type:value`, the key an event keeps so identity can be re-resolved at any time. -#}
{% macro identity_key(identifier_type, expr) -%}
('{{ identifier_type }}:' || ({{ normalize_identifier(identifier_type, expr) }}))
{%- endmacro %}


{#- A person id minted from an identifier: deterministic (a rebuild yields the same id) but keyed
    by the database's secret raw.person_id_key (supabase/migrations/20261201000200_person_id_key.sql),
    so nobody can compute a person's id from their email address. The key is read in SQL,
    never written into it; var person_id_key_sql replaces the lookup (unit tests pin a key). -#}
{% macro derived_person_id(identity_key_expr) -%}
('p_' || left({{ sha256_hex(person_id_key_sql() ~ " || ':' || " ~ identity_key_expr) }}, 20))
{%- endmacro %}

{% macro person_id_key_sql() -%}
{{ var('person_id_key_sql', '(select key from ' ~ var('raw_schema') ~ '.person_id_key)') }}
{%- endmacro %}


{#- Identifier types that name somebody: a component holding one is an identified person, which
    client-asserted edges may never join to another (int_identity__client_edges). The others
    (PostHog distinct ids, fbp / fbc, click ids) are anonymous. -#}
{% macro is_identifying_type(identifier_type_expr) -%}
({{ identifier_type_expr }} in ('person_id', 'email', 'app_user_id', 'stripe_customer', 'calendly_invitee'))
{%- endmacro %}


{#- Identity edges per source (models/intermediate/identity/int_identity__edges_<source>.sql).
    `identity_edge_batch(relation, column)`: the rows of `relation` a cycle reads: those whose
    arrival `column` is newer than this model's own watermark (its newest `last_received_at`)
    minus var event_lookback; every row on a full build. Each source model keeps its own
    watermark, so a quiet source is never skipped because another one ran ahead. -#}
{% macro identity_edge_batch(relation, column) -%}
select
    *,
    {{ column }} as arrived_at
from {{ relation }}
{%- if is_incremental() %}
where {{ column }} > (
    select coalesce(max(last_received_at), {{ min_timestamp() }}) - interval '{{ var("event_lookback") }}'
    from {{ this }}
)
{%- endif %}
{%- endmacro %}


{#- The CTEs every source model ends with, after its `edges` CTE of
    (left_key, right_key, provenance, raw_table, raw_key, seen_at, arrived_at):
    one row per (left_key, right_key, provenance) with its first proof, folded
    incrementally into the pairs already known with min / max (idempotent, so
    re-reading the lookback window changes nothing). The model selects from `final`. -#}
{% macro identity_edge_fold(edges_cte='edges') -%}
cleaned as (
    select
        coalesce(left_key, right_key) as left_key,
        case when left_key is not null and right_key <> left_key then right_key end as right_key,
        provenance,
        raw_table,
        raw_key,
        seen_at,
        arrived_at
    from {{ edges_cte }}
    where coalesce(left_key, right_key) is not null
),

aggregated as (
    select
        left_key || '|' || coalesce(right_key, '') || '|' || provenance as edge_key,
        left_key,
        right_key,
        provenance,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        {{ first_by('raw_table', ['seen_at', 'raw_table', 'raw_key']) }} as raw_table,
        {{ first_by('raw_key', ['seen_at', 'raw_table', 'raw_key']) }} as raw_key,
        max(max(arrived_at)) over () as last_received_at
    from cleaned
    group by left_key, right_key, provenance
),

final as (
    select
        aggregated.edge_key,
        aggregated.left_key,
        aggregated.right_key,
        aggregated.provenance,
        {%- if is_incremental() %}
            least(aggregated.first_seen_at, known.first_seen_at) as first_seen_at,
            greatest(aggregated.last_seen_at, known.last_seen_at) as last_seen_at,
            case when known.edge_key is not null
                    and (known.first_seen_at, known.raw_table, known.raw_key)
                    <= (aggregated.first_seen_at, aggregated.raw_table, aggregated.raw_key)
                    then known.raw_table
                else aggregated.raw_table
            end as raw_table,
            case when known.edge_key is not null
                    and (known.first_seen_at, known.raw_table, known.raw_key)
                    <= (aggregated.first_seen_at, aggregated.raw_table, aggregated.raw_key)
                    then known.raw_key
                else aggregated.raw_key
            end as raw_key,
        {%- else %}
            aggregated.first_seen_at,
            aggregated.last_seen_at,
            aggregated.raw_table,
            aggregated.raw_key,
        {%- endif %}
        aggregated.last_received_at
    from aggregated
    {%- if is_incremental() %}
        left join {{ this }} as known on aggregated.edge_key = known.edge_key
    {%- endif %}
)
{%- endmacro %}
