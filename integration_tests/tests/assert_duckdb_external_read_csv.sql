{{ config(enabled=(target.type == 'duckdb')) }}
-- external_location as a read_csv(...) expression.
{%- if execute %}
  {%- set actual = orchestra_dbt.source_freshness(
        source('orc_it_files', 'orders_read_csv'),
        external_location="read_csv('data/orders.csv', header = true)") %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_mtime('read_csv expression', actual, var('orc_it_csv_mtime', none)) }}
