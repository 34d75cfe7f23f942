-- loaded_at_query: whatever single value the query returns.
-- depends_on: {{ ref('it_events') }}
{%- if execute %}
  {%- set relation = source('orc_it', 'events') %}
  {%- set actual = orchestra_dbt.source_freshness(
        relation,
        loaded_at_query='select min(_loaded_at) from ' ~ relation) %}
  {%- set constant = orchestra_dbt.source_freshness(
        relation,
        loaded_at_query="select cast('2023-06-07 08:09:10' as timestamp)") %}
{%- else %}
  {%- set actual = none %}
  {%- set constant = none %}
{%- endif %}

{{ it_check_equals('loaded_at_query over the table', actual, '2024-01-01 00:00:00') }}
union all
{{ it_check_equals('loaded_at_query constant', constant, '2023-06-07 08:09:10') }}
