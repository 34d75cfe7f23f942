{{ config(enabled=(target.type == 'duckdb')) }}
-- external_location as a plain path, passed explicitly with a relation that
-- carries no location of its own.
{%- if execute %}
  {%- set relation = api.Relation.create(identifier='orders_not_a_table') %}
  {%- set actual = orchestra_dbt.source_freshness(relation, external_location='data/orders.csv') %}
  {%- set quoted = orchestra_dbt.source_freshness(relation, external_location="'data/orders.csv'") %}
{%- else %}
  {%- set actual = none %}
  {%- set quoted = none %}
{%- endif %}
{%- set expected = var('orc_it_csv_mtime', none) %}

{{ it_check_mtime('plain path', actual, expected) }}
union all
{{ it_check_mtime('quoted plain path', quoted, expected) }}
