-- With both given, loaded_at_query wins (as in dbt's own freshness).
-- depends_on: {{ ref('it_events') }}
{%- if execute %}
  {%- set relation = source('orc_it', 'events') %}
  {%- set actual = orchestra_dbt.source_freshness(
        relation,
        loaded_at_field='_loaded_at',
        loaded_at_query='select min(_loaded_at) from ' ~ relation) %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_equals('loaded_at_query preferred over loaded_at_field', actual, '2024-01-01 00:00:00') }}
