{#-
  Supabase exposes the database to browsers through the `anon` and `authenticated`
  roles (PostgREST). Nothing dbt builds is meant for them: person, identity and
  segment tables hold personal data. Run at the end of every dbt invocation
  (on-run-end in dbt_project.yml), this revokes every privilege those roles and
  PUBLIC could have on each schema dbt wrote to, so a grant added by hand or by a
  platform default cannot survive the next run. tests/test_rls.py checks it.
-#}
{% macro revoke_client_access(schemas) -%}
    {{ return(adapter.dispatch('revoke_client_access', 'gdp')(schemas)) }}
{%- endmacro %}

{#- Spark has no Supabase client roles: nothing to revoke. On Databricks, access to the
    warehouse schemas is granted in Unity Catalog (docs/spark.md), never by a dbt hook. -#}
{% macro spark__revoke_client_access(schemas) -%}{%- endmacro %}

{% macro default__revoke_client_access(schemas) -%}
do $$
declare
    target_schema text;
    client_role text;
begin
    foreach target_schema in array array[{% for s in schemas %}'{{ s | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %}]::text[] loop
        continue when not exists (select 1 from pg_namespace where nspname = target_schema);
        execute format('revoke all on schema %I from public', target_schema);
        execute format('revoke all on all tables in schema %I from public', target_schema);
        execute format('revoke all on all sequences in schema %I from public', target_schema);
        foreach client_role in array array['anon', 'authenticated'] loop
            continue when not exists (select 1 from pg_roles where rolname = client_role);
            execute format('revoke all on schema %I from %I', target_schema, client_role);
            execute format('revoke all on all tables in schema %I from %I', target_schema, client_role);
            execute format('revoke all on all sequences in schema %I from %I', target_schema, client_role);
            execute format('alter default privileges in schema %I revoke all on tables from %I', target_schema, client_role);
        end loop;
    end loop;
end
$$
{%- endmacro %}
