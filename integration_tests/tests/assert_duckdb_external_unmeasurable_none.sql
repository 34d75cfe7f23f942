{{ config(enabled=(target.type == 'duckdb')) }}
-- Files that do not exist, and locations that are not files, give none.
{%- if execute %}
  {%- set relation = api.Relation.create(identifier='orders_not_a_table') %}
  {%- set missing = orchestra_dbt.source_freshness(relation, external_location='data/missing_*.csv') %}
  {%- set missing_read = orchestra_dbt.source_freshness(
        relation, external_location="read_parquet('data/missing.parquet')") %}
  {%- set not_files = orchestra_dbt.source_freshness(
        relation, external_location="iceberg_scan('data/warehouse/orders')") %}
{%- else %}
  {%- set missing = 'not executed' %}
  {%- set missing_read = 'not executed' %}
  {%- set not_files = 'not executed' %}
{%- endif %}

{{ it_check_equals('missing glob returns none', missing, none) }}
union all
{{ it_check_equals('missing read_parquet file returns none', missing_read, none) }}
union all
{{ it_check_equals('non-file expression returns none', not_files, none) }}
