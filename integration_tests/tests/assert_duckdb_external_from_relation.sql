{{ config(enabled=(target.type == 'duckdb')) }}
-- Without an explicit location (or with the unformatted '{name}' template),
-- the location dbt-duckdb put on the source relation is used.
{%- if execute %}
  {%- set from_relation = orchestra_dbt.source_freshness(source('orc_it_files', 'orders_path')) %}
  {%- set from_template = orchestra_dbt.source_freshness(
        source('orc_it_files', 'orders'), external_location='data/{name}.csv') %}
{%- else %}
  {%- set from_relation = none %}
  {%- set from_template = none %}
{%- endif %}
{%- set expected = var('orc_it_csv_mtime', none) %}

{{ it_check_mtime('location from the relation', from_relation, expected) }}
union all
{{ it_check_mtime('template location falls back to the relation', from_template, expected) }}
