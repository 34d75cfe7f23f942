-- loaded_at_field: the maximum of the column over the whole table.
-- depends_on: {{ ref('it_events') }}
{%- if execute %}
  {%- set actual = orchestra_dbt.source_freshness(source('orc_it', 'events'), loaded_at_field='_loaded_at') %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_equals('loaded_at_field returns the max', actual, '2024-03-05 12:30:00') }}
