{{ config(enabled=(target.type == 'duckdb')) }}
-- A glob gives the newest file's time (orders_archive.csv is older).
{%- if execute %}
  {%- set relation = api.Relation.create(identifier='orders_not_a_table') %}
  {%- set actual = orchestra_dbt.source_freshness(relation, external_location='data/orders*.csv') %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_mtime('glob gives the newest file', actual, var('orc_it_csv_mtime', none)) }}
